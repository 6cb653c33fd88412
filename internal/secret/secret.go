// Package secret keeps the values a user gives wsbench to reach a service
// (header values, a URL's password and query values) out of everything
// wsbench writes: the result file, the HTML report, the table, progress
// and error messages. A Set holds the values; URL shows a target without
// them; Redact, Writer and Scrub replace them wherever else they turn up
// (a dial error quoting the URL, a fault command printing a token).
package secret

import (
	"io"
	"net/url"
	"reflect"
	"slices"
	"strings"
)

// Shown is what a secret value reads as wherever wsbench writes it.
const Shown = "[redacted]"

// MinLen is the shortest value a Set redacts in free text: a shorter one
// ("1", "ok") would blank unrelated figures, and is no secret worth the
// name. URL and header values are hidden structurally whatever their
// length.
const MinLen = 6

// Set is the secret values of one invocation. The zero Set redacts
// nothing.
type Set struct{ values []string }

// Add adds a secret value and, for a value of several words ("Bearer
// abc…"), each word long enough to be one, so a token quoted without its
// scheme is caught too.
func (s *Set) Add(v string) {
	for _, w := range append([]string{strings.TrimSpace(v)}, strings.Fields(v)...) {
		if len(w) >= MinLen && !slices.Contains(s.values, w) {
			s.values = append(s.values, w)
		}
	}
	// Longest first, so a value containing another is replaced whole.
	slices.SortFunc(s.values, func(a, b string) int { return len(b) - len(a) })
}

// Empty reports whether s has nothing to redact.
func (s *Set) Empty() bool { return s == nil || len(s.values) == 0 }

// Redact is text with every secret value in s replaced by Shown.
func (s *Set) Redact(text string) string {
	if s.Empty() {
		return text
	}
	for _, v := range s.values {
		text = strings.ReplaceAll(text, v, Shown)
		if e := url.QueryEscape(v); e != v { // as a URL carries it
			text = strings.ReplaceAll(text, e, Shown)
		}
	}
	return text
}

// Writer is w with every write redacted. A value split across two writes
// would pass: wsbench writes progress and messages a line at a time.
func (s *Set) Writer(w io.Writer) io.Writer {
	if s.Empty() {
		return w
	}
	return redactingWriter{w, s}
}

type redactingWriter struct {
	w io.Writer
	s *Set
}

func (r redactingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, r.s.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// URL is raw as wsbench shows it: a password in its user info and every
// query value replaced by Shown (names kept: ?token=[redacted]), and the
// values it hid, for a Set. A raw URL that does not parse is returned as
// given, with no values.
func URL(raw string) (shown string, hidden []string) {
	u, err := url.Parse(raw)
	if err != nil {
		return raw, nil
	}
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			hidden = append(hidden, pw)
			u.User = url.UserPassword(u.User.Username(), "REDACTEDPASSWORD")
		}
	}
	var query []string
	if u.RawQuery != "" {
		for _, kv := range strings.Split(u.RawQuery, "&") {
			k, v, _ := strings.Cut(kv, "=")
			if v != "" {
				hidden = append(hidden, v)
				if d, err := url.QueryUnescape(v); err == nil && d != v {
					hidden = append(hidden, d)
				}
			}
			query = append(query, k+"="+Shown)
		}
		u.RawQuery = "REDACTEDQUERY"
	}
	shown = u.String()
	shown = strings.Replace(shown, "REDACTEDPASSWORD", Shown, 1)
	shown = strings.Replace(shown, "REDACTEDQUERY", strings.Join(query, "&"), 1)
	return shown, hidden
}

// Scrub redacts, in place, every string reachable from v (a pointer):
// struct fields, slices, maps (keys included), pointers and interfaces.
// It is the last guard before a result is saved or rendered: a value
// quoted in an error or a command's output is caught wherever it sits.
func (s *Set) Scrub(v any) {
	if s.Empty() {
		return
	}
	s.scrub(reflect.ValueOf(v))
}

func (s *Set) scrub(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			e := v.Elem()
			if v.Kind() == reflect.Interface && e.Kind() == reflect.String {
				if r := s.Redact(e.String()); r != e.String() && v.CanSet() {
					v.Set(reflect.ValueOf(r).Convert(e.Type()))
				}
				return
			}
			s.scrub(e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				s.scrub(f)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			s.scrub(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		for _, k := range v.MapKeys() {
			val := reflect.New(v.Type().Elem()).Elem()
			val.Set(v.MapIndex(k))
			s.scrub(val)
			nk := k
			if k.Kind() == reflect.String {
				if r := s.Redact(k.String()); r != k.String() {
					nk = reflect.ValueOf(r).Convert(k.Type())
					v.SetMapIndex(k, reflect.Value{})
				}
			}
			v.SetMapIndex(nk, val)
		}
	case reflect.String:
		if v.CanSet() {
			if r := s.Redact(v.String()); r != v.String() {
				v.SetString(r)
			}
		}
	}
}
