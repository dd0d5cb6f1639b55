package api

// Console sessions: the console (/ui/) signs in once with the admin key or
// the viewer key and then calls the JSON API with an HttpOnly,
// SameSite=Strict cookie instead of a key. The cookie holds no key: it is
// {role, expiry, nonce} signed with HMAC-SHA256 under a secret derived from
// the configured keys, so changing a key signs every session out, and any
// API replica with the same keys accepts it.
//
// Only routes that need the admin key accept the cookie (the ingest routes
// never do). Reads (GET, HEAD) need only the cookie; anything else also
// needs the session's anti-CSRF token in X-CSRF-Token, and an Origin, when
// the browser sends one, equal to the API's own. A viewer session may only
// read.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Session settings.
const (
	sessionCookie = "leadflow_session"
	csrfHeader    = "X-CSRF-Token"
	sessionTTL    = 12 * time.Hour
)

// viewer is the access of a viewer session: admin routes, reads only.
const viewer access = -1

// Roles of a session.
const (
	roleAdmin  = "admin"
	roleViewer = "viewer"
)

type sessionClaims struct {
	Role    string `json:"r"`
	Expires int64  `json:"e"` // unix seconds
	Nonce   string `json:"n"`
}

// sessionSecret derives the signing secret from the keys.
func (s *server) sessionSecret() []byte {
	m := hmac.New(sha256.New, []byte("leadflow console session v1"))
	m.Write([]byte(s.cfg.AdminKey))
	m.Write([]byte{0})
	m.Write([]byte(s.cfg.ViewerKey))
	return m.Sum(nil)
}

func (s *server) sign(msg string) string {
	m := hmac.New(sha256.New, s.sessionSecret())
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *server) csrfToken(c sessionClaims) string { return s.sign("csrf:" + c.Nonce) }

func (s *server) encodeSession(c sessionClaims) string {
	b, _ := json.Marshal(c)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + s.sign("session:"+payload)
}

// readSession returns the request's valid, unexpired session; ok is false
// when there is no cookie, and err says why a cookie is refused.
func (s *server) readSession(r *http.Request) (c sessionClaims, ok bool, err error) {
	ck, cerr := r.Cookie(sessionCookie)
	if cerr != nil || ck.Value == "" {
		return c, false, nil
	}
	payload, sig, found := strings.Cut(ck.Value, ".")
	if !found || !hmac.Equal([]byte(sig), []byte(s.sign("session:"+payload))) {
		return c, true, fmt.Errorf("the console session is not valid (the keys may have changed); sign in again")
	}
	raw, derr := base64.RawURLEncoding.DecodeString(payload)
	if derr != nil || json.Unmarshal(raw, &c) != nil {
		return c, true, fmt.Errorf("the console session is not valid; sign in again")
	}
	if s.cfg.Now().Unix() >= c.Expires {
		return c, true, fmt.Errorf("the console session has expired; sign in again")
	}
	if (c.Role == roleAdmin && s.cfg.AdminKey == "") || (c.Role == roleViewer && s.cfg.ViewerKey == "") ||
		(c.Role != roleAdmin && c.Role != roleViewer) {
		return c, true, fmt.Errorf("the console session's role is not allowed; sign in again")
	}
	return c, true, nil
}

// sameOrigin refuses a request whose Origin header names another site.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func isRead(r *http.Request) bool { return r.Method == http.MethodGet || r.Method == http.MethodHead }

// sessionAuth authenticates a request by its console session cookie when
// the route needs the admin key and the request carries no Authorization
// header. It reports whether it answered the request (served or refused);
// false lets the key check run.
func (s *server) sessionAuth(w http.ResponseWriter, r *http.Request, need access, next http.HandlerFunc) bool {
	if need != admin || r.Header.Get("Authorization") != "" {
		return false
	}
	c, ok, err := s.readSession(r)
	if !ok {
		return false
	}
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return true
	}
	if !isRead(r) {
		if !sameOrigin(r) {
			writeError(w, http.StatusForbidden, "cross-site request refused: Origin does not match this server")
			return true
		}
		if !hmac.Equal([]byte(r.Header.Get(csrfHeader)), []byte(s.csrfToken(c))) {
			writeError(w, http.StatusForbidden, "missing or wrong "+csrfHeader+" header: send the csrf_token of GET /v1/session with every change")
			return true
		}
		if c.Role != roleAdmin {
			writeError(w, http.StatusForbidden, "the viewer key may only read; sign in with the admin key to change anything")
			return true
		}
	}
	got := admin
	if c.Role == roleViewer {
		got = viewer
	}
	next(w, r.WithContext(withAccess(r, got)))
	return true
}

type sessionResponse struct {
	Role      string    `json:"role"`
	CSRFToken string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *server) sessionJSON(c sessionClaims) sessionResponse {
	return sessionResponse{Role: c.Role, CSRFToken: s.csrfToken(c), ExpiresAt: time.Unix(c.Expires, 0).UTC()}
}

// postSession signs in: {"key": "..."} with the admin or the viewer key
// sets the session cookie.
func (s *server) postSession(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-site sign-in refused: Origin does not match this server")
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Key == "" {
		writeError(w, http.StatusBadRequest, "send {\"key\": \"<admin or viewer key>\"}", detail{Path: "key", Message: "is required"})
		return
	}
	var role string
	switch {
	case keyEqual(in.Key, s.cfg.AdminKey):
		role = roleAdmin
	case keyEqual(in.Key, s.cfg.ViewerKey):
		role = roleViewer
	default:
		s.log.Warn().Str("remote", r.RemoteAddr).Msg("console sign-in with an unknown key")
		writeError(w, http.StatusUnauthorized, "unknown key: sign in with the admin key or the viewer key")
		return
	}
	nonce := make([]byte, 18)
	if _, err := rand.Read(nonce); err != nil {
		s.fail(w, r, fmt.Errorf("error making a session nonce: %w", err))
		return
	}
	c := sessionClaims{Role: role, Expires: s.cfg.Now().Add(sessionTTL).Unix(), Nonce: base64.RawURLEncoding.EncodeToString(nonce)}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.encodeSession(c), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secureRequest(r), Expires: time.Unix(c.Expires, 0), MaxAge: int(sessionTTL.Seconds())})
	s.log.Info().Str("role", role).Msg("console sign-in")
	writeJSON(w, http.StatusOK, s.sessionJSON(c))
}

// getSession says who is signed in and gives the anti-CSRF token.
func (s *server) getSession(w http.ResponseWriter, r *http.Request) {
	c, ok, err := s.readSession(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "not signed in: POST /v1/session with {\"key\": ...}")
		return
	}
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.sessionJSON(c))
}

// deleteSession signs out: the cookie is cleared.
func (s *server) deleteSession(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-site sign-out refused: Origin does not match this server")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secureRequest(r), MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

// secureRequest reports whether the browser reached us over HTTPS (directly
// or through a proxy that says so): the cookie is then Secure.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func withAccess(r *http.Request, a access) context.Context {
	return context.WithValue(r.Context(), accessKey{}, a)
}
