package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"zhizhi/server/console/i18n"
)

// LangCookie is the cookie that remembers the chosen language.
const LangCookie = "lang"

// LangFromRequest returns the console language for r: the lang cookie, else the preferred of zh and en in
// Accept-Language, else zh-CN.
func LangFromRequest(r *http.Request) string {
	if c, err := r.Cookie(LangCookie); err == nil && (c.Value == string(i18n.ZH) || c.Value == string(i18n.EN)) {
		return c.Value
	}
	best, bestQ := string(i18n.ZH), -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		var lang string
		switch {
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			lang = string(i18n.ZH)
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			lang = string(i18n.EN)
		default:
			continue
		}
		if q > bestQ && q > 0 {
			best, bestQ = lang, q
		}
	}
	return best
}

// handleLang serves GET /lang?to=en&back=/path: it remembers the language in a cookie and goes back. back must
// be a local path; anything else goes to /.
func (c *Console) handleLang(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to := q.Get("to")
	if to != string(i18n.ZH) && to != string(i18n.EN) {
		c.renderError(w, r, badParam("to", `must be "zh-CN" or "en"`))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: to, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	http.Redirect(w, r, localPath(q.Get("back")), http.StatusSeeOther)
}

// localPath returns back when it is a path on this server (no scheme, host or "//"), else "/".
func localPath(back string) string {
	u, err := url.Parse(back)
	if err != nil || back == "" || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(back, "/") ||
		strings.HasPrefix(back, "//") || strings.HasPrefix(back, `/\`) || strings.ContainsAny(back, "\r\n") {
		return "/"
	}
	return back
}
