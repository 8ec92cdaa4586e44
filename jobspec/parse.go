// Package jobspec parses GoDocker job specs written in HCL into api.JobSpec
// values, with diagnostics that point at the file, line and column.
package jobspec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/godocker/god/api"
)

const exampleJob = `job "hello" {
  command = "echo hello"
}`

var (
	rootSchema = &hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{{Type: "job", LabelNames: []string{"name"}}},
	}
	// The struct tags of api.JobSpec are the single source of the format;
	// built on first use, as every command of the god binary runs this
	// package's initialisation.
	jobSchema       = sync.OnceValue(func() *hcl.BodySchema { s, _ := gohcl.ImpliedBodySchema(api.JobSpec{}); return s })
	resourcesSchema = sync.OnceValue(func() *hcl.BodySchema { s, _ := gohcl.ImpliedBodySchema(api.Resources{}); return s })
)

// Parse parses a job spec; filename is used in diagnostics and as the base
// of relative paths in file(). Names ending in ".json" are read as HCL JSON
// syntax, others as native HCL. The spec is nil if there are errors.
func Parse(filename string, src []byte) (*api.JobSpec, hcl.Diagnostics) {
	return ParseWithParser(hclparse.NewParser(), filename, src)
}

// ParseFile reads and parses the job spec at path.
func ParseFile(path string) (*api.JobSpec, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read job spec",
			Detail:   fmt.Sprintf("%v. Check the path and that the file is readable.", err),
			Subject:  &hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos},
		}}
	}
	return Parse(path, src)
}

// ParseWithParser is Parse with a caller's parser, whose Files() then hold
// the source for hcl.NewDiagnosticTextWriter to print snippets. The parser
// caches files by name: a second call with the same filename parses the first
// source again, whatever src is.
func ParseWithParser(p *hclparse.Parser, filename string, src []byte) (*api.JobSpec, hcl.Diagnostics) {
	var file *hcl.File
	var diags hcl.Diagnostics
	if strings.EqualFold(filepath.Ext(filename), ".json") {
		file, diags = p.ParseJSON(src, filename)
	} else {
		file, diags = p.ParseHCL(src, filename)
	}
	var spec *api.JobSpec
	if !diags.HasErrors() {
		var more hcl.Diagnostics
		spec, more = decode(file, filename)
		diags = append(diags, more...)
	}
	if diags.HasErrors() {
		spec = nil
	}
	return spec, tidy(diags, filename)
}

func decode(file *hcl.File, filename string) (*api.JobSpec, hcl.Diagnostics) {
	content, diags := file.Body.Content(rootSchema)
	labelErr := false
	for _, d := range diags {
		switch d.Summary {
		case "Unsupported argument", "Unsupported block type", "Extraneous JSON object property":
			d.Detail += fmt.Sprintf(" The top level of a job spec holds only a job block; move this inside it:\n\n%s", exampleJob)
		case "Missing name for job", "Extraneous label for job", "Missing block label":
			labelErr = true
			d.Detail = `A job block takes exactly one label, the job's name, e.g. job "align-reads" { ... }.`
		}
	}
	var blocks hcl.Blocks
	if content != nil {
		blocks = content.Blocks
	}
	if len(blocks) == 0 {
		if !labelErr {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing job block",
				Detail:   "A job spec needs exactly one job block, for example:\n\n" + exampleJob,
				Subject:  file.Body.MissingItemRange().Ptr(),
			})
		}
		return nil, diags
	}
	for _, b := range blocks[1:] {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate job block",
			Detail: fmt.Sprintf("A job spec holds exactly one job and %q is already defined at %s:%d,%d; move this job to a file of its own.",
				blocks[0].Labels[0], blocks[0].DefRange.Filename, blocks[0].DefRange.Start.Line, blocks[0].DefRange.Start.Column),
			Subject: b.DefRange.Ptr(),
		})
	}
	if diags.HasErrors() {
		return nil, diags
	}
	block := blocks[0]

	// Check the structure with explicit schemas first: their errors can then
	// list the valid names, and gohcl below cannot fail on structure again.
	jc, d := block.Body.Content(jobSchema())
	diags = append(diags, withValidNames(d, "job", jobSchema())...)
	for _, rb := range jc.Blocks {
		_, d := rb.Body.Content(resourcesSchema())
		diags = append(diags, withValidNames(d, "resources", resourcesSchema())...)
	}
	if diags.HasErrors() {
		return nil, diags
	}

	dir := filepath.Dir(filename)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	ctx := evalContext(dir)
	spec := &api.JobSpec{Name: block.Labels[0]}
	diags = append(diags, explain(dropUnknownValueErrors(gohcl.DecodeBody(block.Body, ctx, spec)))...)
	if diags.HasErrors() {
		return nil, diags
	}

	ranges, d := fieldRanges(block, jc, ctx)
	diags = append(diags, d...)
	for _, fe := range Validate(spec) {
		diags = append(diags, fieldDiagnostic(fe, ranges, block.DefRange))
	}
	return spec, diags
}

// dropUnknownValueErrors removes the "value must be known" error that gohcl
// adds after an expression failed: with no variables, an unknown value is
// always the result of an error already reported.
func dropUnknownValueErrors(diags hcl.Diagnostics) hcl.Diagnostics {
	if len(diags) < 2 {
		return diags
	}
	return slices.DeleteFunc(diags, func(d *hcl.Diagnostic) bool {
		return d.Summary == "Unsuitable value type" && strings.HasSuffix(d.Detail, "value must be known")
	})
}

// explain adds the fix to hcl's errors about expressions.
func explain(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		switch d.Summary {
		case "Variables not allowed":
			name := "NAME"
			if d.Expression != nil {
				if vars := d.Expression.Variables(); len(vars) > 0 {
					name = vars[0].RootName()
				}
			}
			// The usual cause is a shell variable in braces inside a string.
			d.Detail += fmt.Sprintf(` A job spec has no variables. For a shell variable in a string, write $${%s} or $%s: ${...} is HCL interpolation. To use the submitter's environment, call env(%q).`, name, name, name)
		case "Call to unknown function":
			d.Detail += " The functions available are file(path) and env(name)."
		}
	}
	return diags
}

// withValidNames completes hcl's "not expected here" errors, which suggest
// only a close name, with the full list.
func withValidNames(diags hcl.Diagnostics, block string, schema *hcl.BodySchema) hcl.Diagnostics {
	var attrs, blocks []string
	for _, a := range schema.Attributes {
		attrs = append(attrs, a.Name)
	}
	for _, b := range schema.Blocks {
		blocks = append(blocks, b.Type)
	}
	list := fmt.Sprintf(" Valid arguments in a %s block: %s", block, strings.Join(attrs, ", "))
	if len(blocks) > 0 {
		list += fmt.Sprintf("; valid blocks: %s", strings.Join(blocks, ", "))
	}
	for _, d := range diags {
		switch d.Summary {
		case "Unsupported argument", "Unsupported block type", "Extraneous JSON object property":
			d.Detail += list + "."
		}
	}
	return diags
}

// fieldRanges maps Validate's field names to where they are written: the
// value of each attribute, and list elements and map entries where the
// expression is a literal list or map.
// It also reports keys written twice in a map, which hcl lets the last one win.
func fieldRanges(block *hcl.Block, jc *hcl.BodyContent, ctx *hcl.EvalContext) (map[string]hcl.Range, hcl.Diagnostics) {
	ranges := map[string]hcl.Range{"name": block.LabelRanges[0]}
	diags := addAttributes(ranges, "", jc.Attributes, ctx)
	for _, rb := range jc.Blocks {
		ranges["resources"] = rb.DefRange
		rc, _ := rb.Body.Content(resourcesSchema()) // already checked
		if rc != nil {
			diags = append(diags, addAttributes(ranges, "resources.", rc.Attributes, ctx)...)
		}
	}
	return ranges, diags
}

func addAttributes(ranges map[string]hcl.Range, prefix string, attrs hcl.Attributes, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for name, a := range attrs {
		field := prefix + name
		ranges[field] = a.Expr.Range()
		if items, d := hcl.ExprList(a.Expr); !d.HasErrors() {
			for i, e := range items {
				ranges[fmt.Sprintf("%s[%d]", field, i)] = e.Range()
			}
		}
		if pairs, d := hcl.ExprMap(a.Expr); !d.HasErrors() {
			for _, p := range pairs {
				k, d := p.Key.Value(ctx)
				if d.HasErrors() {
					continue
				}
				k, err := convert.Convert(k, cty.String)
				if err != nil || !k.IsKnown() || k.IsNull() {
					continue
				}
				key := field + "." + k.AsString()
				if prev, dup := ranges[key]; dup {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Duplicate " + field + " key",
						Detail:   fmt.Sprintf("%q is already set on line %d; remove one of them.", k.AsString(), prev.Start.Line),
						Subject:  p.Key.Range().Ptr(),
					})
					continue
				}
				ranges[key] = hcl.RangeBetween(p.Key.Range(), p.Value.Range())
			}
		}
	}
	return diags
}

// fieldDiagnostic places a Validate error on its field, else on the nearest
// enclosing one (volumes[2] on volumes), else on the job block, in which case
// the field is missing from the spec.
func fieldDiagnostic(fe api.FieldError, ranges map[string]hcl.Range, def hcl.Range) *hcl.Diagnostic {
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Missing " + fe.Field,
		Detail:   sentence(fe.Message),
		Subject:  def.Ptr(),
	}
	for f := fe.Field; f != ""; {
		if r, ok := ranges[f]; ok {
			d.Summary = "Invalid " + fe.Field
			d.Subject = r.Ptr()
			break
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return d
}

// sentence capitalises a FieldError message and ends it with a period, as
// hcl's own details are written.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// tidy gives every diagnostic a subject and sorts them by position: gohcl
// decodes attributes in map order, which would shuffle its errors.
func tidy(diags hcl.Diagnostics, filename string) hcl.Diagnostics {
	for _, d := range diags {
		if d.Subject == nil {
			d.Subject = &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
		}
	}
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		if c := strings.Compare(a.Subject.Filename, b.Subject.Filename); c != 0 {
			return c
		}
		return a.Subject.Start.Byte - b.Subject.Start.Byte
	})
	return diags
}
