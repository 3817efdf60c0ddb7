package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"zhizhi/server/auth"
	"zhizhi/server/console"
)

// loginPath serves the sign-in form (GET) and takes it (POST).
const loginPath = "/login"

// loginCookie holds the sign-in form's anti-CSRF token (double submit: the form posts it back).
const loginCookie = "zhizhi_login"

// pageContext tells the console who asks: the signed-in user, what they may see and the session's CSRF token.
func (s *Server) pageContext(r *http.Request) console.PageContext {
	c := callerFrom(r)
	if c.User == nil {
		return console.PageContext{} // the zero Scope sees nothing
	}
	u := c.User
	pc := console.PageContext{User: console.User{Name: u.Name, Role: string(u.Role), Department: u.Department}}
	switch u.Role {
	case auth.RoleAdmin, auth.RoleAnalyst:
		pc.Scope = console.Scope{All: true}
	case auth.RoleDepartment:
		pc.Scope = console.Scope{DepartmentID: u.DepartmentID}
	}
	if c.Session != nil {
		pc.CSRF = c.Session.CSRF
	}
	return pc
}

// safeNext returns next when it is a path on this server (not the login or logout path), else "/".
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) ||
		strings.IndexFunc(next, unicode.IsControl) >= 0 {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Path == loginPath || u.Path == console.LogoutPath {
		return "/"
	}
	return next
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
}

func clearCookie(w http.ResponseWriter, r *http.Request, name, path string) {
	setCookie(w, r, name, "", path, -1)
}

// formToken returns the sign-in form's token: the one in the login cookie, or a new one set in it.
func (s *Server) formToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if ck, err := r.Cookie(loginCookie); err == nil && len(ck.Value) == 43 {
		return ck.Value, nil
	}
	tok, err := auth.NewToken()
	if err != nil {
		return "", err
	}
	setCookie(w, r, loginCookie, tok, loginPath, 3600)
	return tok, nil
}

// renderLogin shows the sign-in form with status code and the message key msg.
func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, code int, next, username, msg string) error {
	tok, err := s.formToken(w, r)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	s.console.RenderLogin(w, r, code, console.LoginPage{Next: next, Username: username, Error: msg, FormToken: tok})
	return nil
}

// handleLoginPage serves GET /login?next=/path: the sign-in form, or straight to next when signed in already.
func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request, _ caller) error {
	q := r.URL.Query()
	next := safeNext(q.Get("next"))
	if ck, err := r.Cookie(auth.SessionCookie); err == nil {
		if _, err := s.sessions.Lookup(r.Context(), ck.Value); err == nil {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return nil
		}
	}
	msg := ""
	if q.Get("expired") != "" {
		msg = "login.expired"
	}
	return s.renderLogin(w, r, http.StatusOK, next, "", msg)
}

// handleLogin takes POST /login (username, password, next and the form token): on success it starts a new
// session and goes to next (a local path only). Failures show one message whether the name exists or not.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, _ caller) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return httpErr(http.StatusBadRequest, "invalid form", err)
	}
	name, password := auth.NormalizeName(r.PostForm.Get("username")), r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	ck, err := r.Cookie(loginCookie)
	if err != nil || !auth.TokensEqual(r.PostForm.Get(console.CSRFField), ck.Value) {
		s.log.Info("sign-in form without a valid form token", "ip", clientIP(r))
		clearCookie(w, r, loginCookie, loginPath)
		r.Header.Del("Cookie") // issue a fresh form token
		return s.renderLogin(w, r, http.StatusForbidden, next, name, "login.form_stale")
	}
	u, err := s.checkPassword(r, name, password)
	var he *HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusTooManyRequests:
			s.log.Info("sign-in throttled", "user", name, "ip", clientIP(r))
			w.Header().Set("Retry-After", retryAfter(he.retryAfter))
			return s.renderLogin(w, r, http.StatusTooManyRequests, next, name, "login.throttled")
		case http.StatusUnauthorized:
			w.Header().Set("WWW-Authenticate", sessionChallenge)
			return s.renderLogin(w, r, http.StatusUnauthorized, next, name, "login.failed")
		}
	}
	if err != nil {
		return err
	}
	if old, err := r.Cookie(auth.SessionCookie); err == nil {
		if err := s.sessions.Delete(r.Context(), old.Value); err != nil {
			return err
		}
	}
	token, _, err := s.sessions.Create(r.Context(), u)
	if err != nil {
		return err
	}
	setCookie(w, r, auth.SessionCookie, token, "/", 0)
	clearCookie(w, r, loginCookie, loginPath)
	s.log.Info("user signed in", "user", u.Name, "role", u.Role, "ip", clientIP(r))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// handleLogout takes POST /logout (CSRF-checked by the route wrapper): it ends the session and clears the cookie.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, c caller) error {
	if ck, err := r.Cookie(auth.SessionCookie); err == nil {
		if err := s.sessions.Delete(r.Context(), ck.Value); err != nil {
			return err
		}
	}
	clearCookie(w, r, auth.SessionCookie, "/")
	s.log.Info("user signed out", "user", userName(c))
	http.Redirect(w, r, loginPath, http.StatusSeeOther)
	return nil
}
