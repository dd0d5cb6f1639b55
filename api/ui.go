package api

// The console: the built pages of package ui, served at /ui/ with headers
// of their own (a strict Content-Security-Policy: scripts and styles only
// from this server, no inline script), and the routes it needs besides the
// JSON API it calls with its session (session.go).

import (
	"net/http"

	"github.com/leadflow/leadflow/ui"
)

// ConsoleCSP is the Content-Security-Policy of the console's pages.
const ConsoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// consoleRoutes are the API routes added for the console.
func (s *server) consoleRoutes() []route {
	return []route{
		{"POST", "/v1/session", public, s.postSession},
		{"GET", "/v1/session", public, s.getSession},
		{"DELETE", "/v1/session", public, s.deleteSession},
		{"GET", "/v1/contacts/{contact_id}/timeline", admin, s.getContactTimeline},
		{"GET", "/v1/definitions/{id}/stats", admin, s.getDefinitionStats},
		{"POST", "/v1/validate", admin, s.postValidate},
		{"GET", "/v1/schema", admin, s.getSchema},
		{"GET", "/v1/segments", admin, s.getSegments},
		{"GET", "/v1/segments/{id}/history", admin, s.getSegmentHistory},
		{"GET", "/v1/accounts", admin, s.getAccounts},
	}
}

// mountConsole serves the console's files at /ui/.
func (s *server) mountConsole(mux *http.ServeMux) {
	files := http.StripPrefix("/ui/", http.FileServerFS(ui.DistFS()))
	mux.Handle("GET /ui/", consoleHeaders(files))
	mux.Handle("GET /ui", consoleHeaders(http.RedirectHandler("/ui/", http.StatusMovedPermanently)))
}

// consoleHeaders sets the security headers of every console response.
func consoleHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ConsoleCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}
