package auth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newUsers(t *testing.T, clk *testClock) (*MemoryUserStore, *Authenticator) {
	t.Helper()
	us := &MemoryUserStore{Departments: map[string]int64{"民政局": 7}, Clock: clk.Now}
	h, _ := HashPassword("pw-ann", bcrypt.MinCost)
	ctx := context.Background()
	if err := us.CreateUser(ctx, User{Name: "ann", Role: RoleAnalyst, Department: "ignored"}, h); err != nil {
		t.Fatal(err)
	}
	if err := us.CreateUser(ctx, User{Name: "dora", Role: RoleDepartment, Department: "民政局"}, h); err != nil {
		t.Fatal(err)
	}
	return us, NewAuthenticator(us)
}

func TestMemoryUserStoreDepartments(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	us, a := newUsers(t, clk)
	ctx := context.Background()
	u, err := a.User(ctx, "dora")
	if err != nil || u.DepartmentID != 7 || u.Department != "民政局" || u.Role != RoleDepartment {
		t.Fatalf("dora: %+v %v", u, err)
	}
	if u, _ := a.User(ctx, "ann"); u.Department != "" || u.DepartmentID != 0 {
		t.Fatalf("an analyst has no department: %+v", u)
	}
	if err := us.CreateUser(ctx, User{Name: "x", Role: RoleDepartment, Department: "nowhere"}, "h"); !errors.Is(err, ErrNoDepartment) {
		t.Fatalf("unknown department: %v", err)
	}
	if _, err := a.User(ctx, "nobody"); !errors.Is(err, ErrNoUser) {
		t.Fatalf("unknown user: %v", err)
	}
	// A disabled user cannot sign in, with the right password or not.
	if err := us.Disable(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, "ann", "pw-ann"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("disabled user signed in: %v", err)
	}
}

func TestSessionsLifecycle(t *testing.T) {
	ctx := context.Background()
	clk := &testClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	us, a := newUsers(t, clk)
	st := &MemorySessionStore{}
	m := NewSessions(st, a, SessionOptions{Idle: time.Hour, Absolute: 3 * time.Hour, Clock: clk.Now})
	dora, _ := a.User(ctx, "dora")

	tok, s, err := m.Create(ctx, dora)
	if err != nil || len(tok) != 43 || len(s.CSRF) != 43 || s.CSRF == tok {
		t.Fatalf("create: %q %+v %v", tok, s, err)
	}
	if s.ExpiresAt != clk.Now().Add(time.Hour) {
		t.Fatalf("expires %v, want idle timeout", s.ExpiresAt)
	}
	tok2, s2, _ := m.Create(ctx, dora)
	if tok2 == tok || s2.CSRF == s.CSRF {
		t.Fatal("tokens repeat")
	}
	// The store never sees the token, only its hash.
	if _, err := st.SessionByHash(ctx, []byte(tok)); !errors.Is(err, ErrNoSession) {
		t.Fatal("the store is keyed by the raw token")
	}

	got, err := m.Lookup(ctx, tok)
	if err != nil || got.User.Name != "dora" || got.User.DepartmentID != 7 || got.CSRF != s.CSRF {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	// Use within the idle timeout slides the expiry, up to the absolute limit.
	for range 5 {
		clk.Add(50 * time.Minute)
		if _, err := m.Lookup(ctx, tok); err != nil {
			if clk.Now().Sub(s.CreatedAt) < 3*time.Hour {
				t.Fatalf("active session ended after %v: %v", clk.Now().Sub(s.CreatedAt), err)
			}
			break
		}
		if clk.Now().Sub(s.CreatedAt) >= 3*time.Hour {
			t.Fatal("session outlived the absolute timeout")
		}
	}
	if _, err := m.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after the absolute timeout: %v", err)
	}
	// tok2 was idle all along.
	if _, err := m.Lookup(ctx, tok2); !errors.Is(err, ErrNoSession) {
		t.Fatalf("idle session: %v", err)
	}
	if st.Len() != 0 {
		t.Fatalf("%d expired sessions left in the store", st.Len())
	}

	// Idle exactly up to the timeout ends it; just before does not.
	tok, _, _ = m.Create(ctx, dora)
	clk.Add(time.Hour - time.Second)
	if _, err := m.Lookup(ctx, tok); err != nil {
		t.Fatalf("just before idle timeout: %v", err)
	}
	clk.Add(time.Hour)
	if _, err := m.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("idle timeout: %v", err)
	}

	// A password change or disabling ends existing sessions.
	tok, _, _ = m.Create(ctx, dora)
	clk.Add(time.Second)
	h, _ := HashPassword("new", bcrypt.MinCost)
	us.SetPassword(ctx, "dora", h)
	if _, err := m.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session survived a password change: %v", err)
	}
	tok, _, _ = m.Create(ctx, dora)
	us.Disable(ctx, "dora")
	if _, err := m.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session survived disabling: %v", err)
	}
	ann, _ := a.User(ctx, "ann")
	tok, _, _ = m.Create(ctx, ann)
	if err := m.Delete(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("deleted session: %v", err)
	}
	for _, bad := range []string{"", "forged"} {
		if _, err := m.Lookup(ctx, bad); !errors.Is(err, ErrNoSession) {
			t.Fatalf("token %q: %v", bad, err)
		}
	}
}

func TestTokensEqual(t *testing.T) {
	for _, c := range []struct {
		got, want string
		ok        bool
	}{{"abc", "abc", true}, {"abd", "abc", false}, {"", "", false}, {"abc", "", false}, {"ab", "abc", false}} {
		if TokensEqual(c.got, c.want) != c.ok {
			t.Errorf("TokensEqual(%q, %q) != %v", c.got, c.want, c.ok)
		}
	}
}

func TestThrottle(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	th := NewThrottle(ThrottleOptions{Clock: clk.Now})
	const ip = "10.0.0.1"
	for i := 1; i <= 4; i++ {
		th.Fail("Ann", ip)
		if w := th.Wait("ann", ip); w != 0 {
			t.Fatalf("locked after %d failures: %v", i, w)
		}
	}
	// The fifth failure locks the name (case-insensitively) for Base, then each failure doubles it up to Max.
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	for i, w := range want {
		th.Fail("ann", ip)
		if got := th.Wait(" ANN ", "10.9.9.9"); got != w {
			t.Fatalf("failure %d: wait %v, want %v", i+5, got, w)
		}
	}
	if w := th.Wait("bob", "10.9.9.9"); w != 0 {
		t.Fatalf("another name from another address is locked: %v", w)
	}
	clk.Add(15*time.Minute + time.Second)
	if w := th.Wait("ann", ip); w != 0 {
		t.Fatalf("lock outlived Max: %v", w)
	}
	// Failures are forgotten after Max: one more failure does not lock again.
	clk.Add(time.Minute)
	th.Fail("ann", "10.0.0.2")
	if w := th.Wait("ann", "10.0.0.2"); w != 0 {
		t.Fatalf("old failures still counted: %v", w)
	}
	// An address guessing many names is locked after IPFailures, whatever the name.
	for i := range 20 {
		th.Fail(string(rune('a'+i)), "10.6.6.6")
	}
	if w := th.Wait("zed", "10.6.6.6"); w != time.Minute {
		t.Fatalf("guessing address: wait %v", w)
	}
	// A success clears the name's failures.
	for range 4 {
		th.Fail("cat", "10.0.0.3")
	}
	th.Succeed("cat", "10.0.0.3")
	th.Fail("cat", "10.0.0.3")
	if w := th.Wait("cat", "10.0.0.4"); w != 0 {
		t.Fatalf("success did not reset the name: %v", w)
	}
}
