package master

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDashboardRefusals: what /api/control and /api/status refuse before
// anything reaches the loop, each with its status and a message saying
// what to do.
func TestDashboardRefusals(t *testing.T) {
	off, err := newDashboard(false, func() {})
	if err != nil {
		t.Fatal(err)
	}
	on, err := newDashboard(true, func() {})
	if err != nil {
		t.Fatal(err)
	}
	if len(on.token) != 32 || off.token != "" {
		t.Fatalf("tokens %q (actions on), %q (off)", on.token, off.token)
	}
	for _, tc := range []struct {
		name         string
		d            *dashboard
		method, path string
		auth, body   string
		code         int
		says         string
	}{
		{"actions off", off, "POST", "/api/control", "Bearer " + on.token, `{"verb":"pause"}`, 403, "dashboard_actions: true"},
		{"GET", on, "GET", "/api/control", "", "", 405, "POST a JSON body"},
		{"no token", on, "POST", "/api/control", "", `{"verb":"pause"}`, 401, "Authorization: Bearer TOKEN"},
		{"wrong token", on, "POST", "/api/control", "Bearer " + strings.Repeat("0", 32), `{"verb":"pause"}`, 401, "no valid token"},
		{"not JSON", on, "POST", "/api/control", "Bearer " + on.token, `pause`, 400, "body:"},
		{"unknown verb", on, "POST", "/api/control", "Bearer " + on.token, `{"verb":"delete"}`, 400, "pause, resume, stop or host"},
		{"bad since", on, "GET", "/api/status?since=yesterday", "", "", 400, "unix milliseconds"},
		{"status", off, "GET", "/api/status?since=0", "", "", 200, `"columns":["t_ms","results","bytes"`},
		{"page", off, "GET", "/", "", "", 200, "<title>spyder crawl</title>"},
		{"no other page", off, "GET", "/admin", "", "", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			for pattern, h := range tc.d.routes() {
				mux.Handle(pattern, h)
			}
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.says) {
				t.Fatalf("HTTP %d %q; want %d saying %q", rec.Code, rec.Body.String(), tc.code, tc.says)
			}
		})
	}
}
