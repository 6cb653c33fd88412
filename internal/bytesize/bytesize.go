// Package bytesize owns the one syntax every size flag of wsbench takes
// (`run --payload 4KiB`, `serve --gomemlimit 1GiB`), so a size that one
// command accepts is never a parse error in another.
package bytesize

import (
	"errors"
	"flag"
	"math"
	"strconv"
	"strings"
)

// Syntax is the sentence error messages show for a malformed size.
const Syntax = "want a size such as 1024, 512B, 4KiB, 1MiB or 1GiB"

// units are the suffixes a size may end in, case-insensitive, longest
// first so that "kib" is not read as "b". Decimal-looking names (k, KB)
// mean the binary multiples too: a buffer or memory limit is counted in
// KiB, and nobody asks for a 1000-byte payload by writing 1KB.
var units = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"tb", 1 << 40},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ErrSyntax is returned for a value that is not a size.
var ErrSyntax = errors.New(Syntax)

// Parse reads a size in bytes: a whole number of bytes, or of KiB, MiB,
// GiB or TiB (1024, 512B, 4KiB, 4k, 1MiB, 1m, 1GiB). Sizes are never
// negative.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, ErrSyntax
	}
	return n * mult, nil
}

// Format writes n in the largest unit that divides it exactly (4096 is
// "4KiB", 1000 stays "1000"), which Parse reads back as n.
func Format(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// Value is a size flag stored in an integer field of either width.
type Value[T int | int64] struct{ p *T }

// Var defines a size flag on fs that stores into p, with p's current value
// as its default.
func Var[T int | int64](fs *flag.FlagSet, p *T, name, usage string) {
	fs.Var(Value[T]{p}, name, usage)
}

func (v Value[T]) String() string {
	if v.p == nil {
		return "0"
	}
	return Format(int64(*v.p))
}

// Set parses s with Parse; a size beyond T's range is refused.
func (v Value[T]) Set(s string) error {
	n, err := Parse(s)
	if err != nil {
		return err
	}
	if int64(T(n)) != n {
		return errors.New("too large")
	}
	*v.p = T(n)
	return nil
}
