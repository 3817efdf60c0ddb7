package install

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

func TestApplyOwnership(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(nobody.Gid)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	acts := []Action{
		{Kind: WriteFile, Path: path, Data: []byte("x"), Mode: 0o600, Owner: "nobody", Group: g.Name},
		{Kind: Mkdir, Path: filepath.Join(dir, "spool"), Mode: 0o750, Owner: "nobody"},
	}
	if err := Apply(context.Background(), acts, noCommands{t}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, filepath.Join(dir, "spool")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if strconv.Itoa(int(st.Uid)) != nobody.Uid {
			t.Errorf("%s: uid %d, want %s", p, st.Uid, nobody.Uid)
		}
	}
	if err := Apply(context.Background(), []Action{{Kind: WriteFile, Path: path, Owner: "zhizhi-no-such-user"}}, noCommands{t}); err == nil {
		t.Error("unknown owner accepted")
	}
}
