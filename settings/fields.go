// fields.go: the extracted fields' names (css_extract, output_fields): one
// reading of a css_extract entry for the processor that extracts them and
// the outputs that write them.

package settings

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// fieldName is what a field may be called: it becomes a JSON key and a
// CSV column.
var fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// CSSExtractEntry splits one css_extract entry, name=selector or
// name[]=selector (every match), into its field name, its selector
// expression (with an @attribute, if any, still on it) and whether it
// takes every match.
func CSSExtractEntry(entry string) (name, expr string, all bool, err error) {
	name, expr, ok := strings.Cut(entry, "=")
	name, expr = strings.TrimSpace(name), strings.TrimSpace(expr)
	if !ok || expr == "" {
		return "", "", false, fmt.Errorf("%q: want name=selector (e.g. title=title, price=span.price, links[]=a@href)", entry)
	}
	name, all = strings.CutSuffix(name, "[]")
	if !fieldName.MatchString(name) {
		return "", "", false, fmt.Errorf("%q: the field name %q must be letters, digits, _, . or -, not starting with a digit", entry, name)
	}
	return name, expr, all, nil
}

// ListFields are css_extract's fields that take every match: their values
// are JSON arrays, which the outputs write as arrays.
func (s *Settings) ListFields() map[string]bool {
	lists := map[string]bool{}
	for _, e := range s.CSSExtract {
		if name, _, all, err := CSSExtractEntry(e); err == nil && all {
			lists[name] = true
		}
	}
	return lists
}

// OutputFieldNames are the fields the outputs write, in order:
// output_fields, or else css_extract's names.
func (s *Settings) OutputFieldNames() []string {
	if len(s.OutputFields) > 0 {
		return s.OutputFields
	}
	var names []string
	for _, e := range s.CSSExtract {
		if name, _, _, err := CSSExtractEntry(e); err == nil {
			names = append(names, name)
		}
	}
	return names
}

// checkFields says what is wrong with css_extract's names and
// output_fields (the selectors are the css_extract processor's to check).
func (s *Settings) checkFields(add func(key, format string, args ...any)) {
	seen := map[string]bool{}
	for _, e := range s.CSSExtract {
		name, _, _, err := CSSExtractEntry(e)
		if err != nil {
			add("css_extract", "%v", err)
			continue
		}
		if seen[name] {
			add("css_extract", "%q: the field %s is named twice", e, name)
		}
		seen[name] = true
	}
	if len(s.CSSExtract) > 0 && !s.runs("css_extract") {
		add("css_extract", "fields are named but no pipeline runs the css_extract processor: add it to spyder_extractor_pipeline (e.g. [limiter, html_link_extractor, http_extractor, css_extract])")
	}
	for _, name := range s.OutputFields {
		if !fieldName.MatchString(name) {
			add("output_fields", "%q must be letters, digits, _, . or -, not starting with a digit", name)
		}
	}
}

// runs reports whether a pipeline runs processor name.
func (s *Settings) runs(name string) bool {
	return slices.Contains(s.SpyderExtractorPipeline, name) || slices.Contains(s.SpyderScoperPipeline, name)
}
