package conformance

import (
	"fmt"
	"html/template"
	"io"
	"strings"
)

// page is the self-contained HTML report: no script, no external asset, so
// it opens from a CI artifact as it is.
var page = template.Must(template.New("conformance").Funcs(template.FuncMap{
	"counts": func(m map[Outcome]int, o string) int { return m[Outcome(o)] },
	"total":  func(s Subject) map[Outcome]int { return s.Total() },
	"groups": func() []string { return Groups },
	"cell": func(s Subject, id string) CaseResult {
		c, _ := s.caseResult(id)
		return c
	},
	"mark":  func(o Outcome) string { return outcomeMark[o] },
	"cost":  costText,
	"class": func(o Outcome) string { return strings.ReplaceAll(string(o), "-", "") },
	"tip": func(c CaseResult) string {
		return fmt.Sprintf("%s: %s\nsent: %s\nfirst bytes: %s", c.Outcome, c.Reason, strings.Join(c.FramesSent, "; "), c.FirstBytes)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>WebSocket conformance</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
td.n{text-align:right}
.pass{background:#d9f2d9}.nonstrict{background:#fff2c2}.fail{background:#f7c6c6;font-weight:bold}
.timeout{background:#e6d3f5}.unsupported{color:#888}
.req{font-size:12px;color:#555;max-width:40em}
</style></head><body>
<h1>WebSocket conformance</h1>
<p>{{len .Cases}} cases from RFC 6455 and RFC 7692, played against every reference server by a raw-frame client and against every driver by a raw-frame server. Started {{.Started.Format "2006-01-02 15:04:05 MST"}}, {{.Environment.GoVersion}}, {{.Environment.CPUModel}}.</p>
<h2>Summary</h2>
<table><tr><th>library</th><th>side</th><th>pass</th><th>non-strict</th><th>fail</th><th>timeout</th><th>unsupported</th></tr>
{{range .Subjects}}{{$t := total .}}<tr><td>{{.Name}}</td><td>{{.Side}}</td>{{if .Error}}<td colspan="5">not played: {{.Error}}</td>{{else}}<td class="n">{{counts $t "pass"}}</td><td class="n">{{counts $t "non-strict"}}</td><td class="n">{{counts $t "fail"}}</td><td class="n">{{counts $t "timeout"}}</td><td class="n">{{counts $t "unsupported"}}</td>{{end}}</tr>
{{end}}</table>
<h2>Per library and group</h2>
<table><tr><th>library</th>{{range groups}}<th>{{.}}</th>{{end}}</tr>
{{range $s := .Subjects}}<tr><td>{{$s.Label}}</td>{{range groups}}{{$m := index $s.Summary .}}<td>{{if $m}}{{counts $m "pass"}} pass{{with counts $m "non-strict"}}, {{.}} non-strict{{end}}{{with counts $m "fail"}}, <b>{{.}} fail</b>{{end}}{{with counts $m "timeout"}}, {{.}} timeout{{end}}{{with counts $m "unsupported"}}, {{.}} unsupported{{end}}{{end}}</td>{{end}}</tr>
{{end}}</table>
<h2>Safety probes</h2>
<table><tr><th>library</th><th>probe</th><th>outcome</th><th>cost</th><th>reason</th></tr>
{{range $s := .Subjects}}{{range $.Cases}}{{if .Probe}}{{$c := cell $s .ID}}{{if $c.ID}}<tr><td>{{$s.Label}}</td><td>{{.ID}} {{.Title}}</td><td class="{{class $c.Outcome}}">{{$c.Outcome}}</td><td>{{cost $c.Cost}}</td><td>{{$c.Reason}}</td></tr>{{end}}{{end}}{{end}}{{end}}
</table>
<h2>Every case</h2>
<p>Hover a cell for the reason, the frames sent and the first bytes received.</p>
<table><tr><th>case</th><th>title and requirement</th>{{range .Subjects}}<th>{{.Label}}</th>{{end}}</tr>
{{range $c := .Cases}}<tr><td>{{$c.ID}}</td><td>{{$c.Title}}<div class="req">{{$c.Requirement}}{{if $c.Setting}} Setting: {{$c.Setting}}{{end}}</div></td>{{range $.Subjects}}{{$r := cell . $c.ID}}<td class="{{class $r.Outcome}}" title="{{tip $r}}">{{mark $r.Outcome}}</td>{{end}}</tr>
{{end}}</table>
</body></html>
`))

// RenderHTML writes the self-contained HTML report.
func RenderHTML(w io.Writer, r *Result) error {
	if err := page.Execute(w, r); err != nil {
		return fmt.Errorf("conformance html: %w", err)
	}
	return nil
}
