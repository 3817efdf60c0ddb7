package agent

import (
	"errors"
	"strings"
)

// ErrMalformedToken is returned by ParseToken; its message never contains the token.
var ErrMalformedToken = errors.New(`malformed agent token: want "zz_<agent id>_<secret>"`)

// ParseToken returns the agent id of a token "zz_<agentID>_<secret>". The agent id is the text between "zz_"
// and the next underscore (letters, digits, '-' and '.'); the secret is everything after it and may contain
// underscores.
func ParseToken(token string) (agentID string, err error) {
	rest, ok := strings.CutPrefix(token, "zz_")
	if !ok {
		return "", ErrMalformedToken
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || id == "" || len(secret) < 8 || len(id) > 64 {
		return "", ErrMalformedToken
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return "", ErrMalformedToken
		}
	}
	for _, r := range secret {
		if r <= ' ' || r == 0x7f {
			return "", ErrMalformedToken
		}
	}
	return id, nil
}
