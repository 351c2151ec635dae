// print.go: the effective settings as YAML (spyder settings, spyder init).

package settings

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// YAML renders s as a commented YAML document with every setting in
// declaration order, readable back by Load as a config file. A derived
// setting that was not set is written commented out, so that the file
// read back keeps it following its source. A secret (a password, a key
// given inline) is not shown: its line is commented out.
func (s *Settings) YAML() []byte {
	var b bytes.Buffer
	for _, f := range fields {
		doc, off, value := f.Doc, "", yamlValue(s.Value(f))
		if from := s.DerivedFrom(f.Name); from != "" {
			doc += " [derived from " + from + "; uncomment to set it apart]"
			off = "# "
		}
		if v, _ := s.Value(f).(string); f.Secret && v != "" && !isFile(v) {
			doc += " [set, not shown: keep it in the environment or a file]"
			off, value = "# ", `""`
		}
		fmt.Fprintf(&b, "# %s\n%s%s: %s\n", doc, off, f.Name, value)
	}
	return b.Bytes()
}

func isFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}

func yamlValue(v any) string {
	switch v := v.(type) {
	case time.Duration:
		return strconv.FormatFloat(v.Seconds(), 'f', -1, 64)
	case []string:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = yamlScalar(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		return yamlScalar(v)
	}
	return fmt.Sprint(v)
}

func yamlScalar(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(string(out), "\n")
}
