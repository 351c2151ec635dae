// compose_test.go: docker-compose.yml's commands, run against the binary.

package main

import (
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestComposeRunsTheREADMECommands checks docker-compose.yml against the
// binary and the README without Docker: the image's entrypoint is spyder
// (or a binary the Dockerfile builds); every service's command is a spyder
// command the README documents, its flags parse, and its environment is a
// valid configuration. (.ci/run also validates the file with Debian's
// docker-compose.)
func TestComposeRunsTheREADMECommands(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Entrypoint  []string          `yaml:"entrypoint"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dockerfile), `ENTRYPOINT ["spyder"]`) {
		t.Fatal(`the Dockerfile's entrypoint is not ["spyder"]`)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(compose.Services))
	for name := range compose.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	spyderServices := 0
	for _, name := range names {
		svc := compose.Services[name]
		if svc.Build == nil {
			if svc.Image == "" {
				t.Errorf("%s: neither built here nor an image", name)
			}
			continue // another project's image (Redis)
		}
		if len(svc.Entrypoint) > 0 {
			// Another binary of the image: the Dockerfile must build it.
			if !strings.Contains(string(dockerfile), "/out/"+svc.Entrypoint[0]+" ./cmd/"+svc.Entrypoint[0]) {
				t.Errorf("%s: entrypoint %s is not built by the Dockerfile", name, svc.Entrypoint[0])
			}
			continue
		}
		spyderServices++
		if len(svc.Command) == 0 {
			t.Errorf("%s: no command", name)
			continue
		}
		sub := svc.Command[0]
		if !regexp.MustCompile(`spyder ` + regexp.QuoteMeta(sub) + `\b`).Match(readme) {
			t.Errorf("%s: `spyder %s` is not a command the README shows", name, sub)
		}
		var env []string
		for k, v := range svc.Environment {
			env = append(env, k+"="+v)
		}
		// The flags parse (--help stops before anything runs) ...
		cmd := exec.Command(spyderBin, append(append([]string{}, svc.Command...), "--help")...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: spyder %s: %v\n%s", name, strings.Join(svc.Command, " "), err, out)
		}
		// ... and the environment is a valid configuration.
		cmd = exec.Command(spyderBin, "settings")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: its environment does not load: %v\n%s", name, err, out)
		}
	}
	if spyderServices < 5 {
		t.Fatalf("%d spyder services in docker-compose.yml, want a master and workers, and two masters and workers on Redis", spyderServices)
	}
}
