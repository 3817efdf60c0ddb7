package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"zhizhi/collector/store"
)

// backupCmds returns `zhizhi backup` and `zhizhi restore`.
func (c *cli) backupCmds() []*cobra.Command {
	var dataDir, to string
	backup := &cobra.Command{
		Use:   "backup --data DIR --to FILE",
		Short: "Write a consistent copy of the database, also while zhizhi up runs",
		Long: `Backup writes a consistent copy of <data>/zhizhi.db to FILE (SQLite VACUUM INTO: one read transaction,
ingest goes on meanwhile). The copy is checked (schema version, PRAGMA integrity_check) before it gets its
name, so FILE is either absent or a complete backup. FILE must not exist; it is created with mode 0600
(it holds token and password hashes). Restore it with "zhizhi restore --from FILE".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src := filepath.Join(dataDir, dbFile)
			if _, err := os.Stat(src); err != nil {
				return fmt.Errorf("no database at %s (pass --data): %w", src, err)
			}
			start := time.Now()
			bar := newBar(c.errOut, "backup")
			info, err := store.Backup(cmd.Context(), src, to, func(written, total int64) {
				if bar != nil {
					bar.ChangeMax64(total)
					bar.Set64(written)
				}
			})
			if bar != nil {
				bar.Finish()
				fmt.Fprintln(c.errOut)
			}
			if err != nil {
				if errors.Is(err, store.ErrExists) {
					return fmt.Errorf("%s exists: choose a new file name", to)
				}
				return err
			}
			fmt.Fprintf(c.out, "backup of %s written to %s in %s\n", src, to, time.Since(start).Round(time.Millisecond))
			printInfo(c.out, info)
			return nil
		},
	}
	backup.Flags().StringVar(&dataDir, "data", "./data", "data directory of the server")
	backup.Flags().StringVar(&to, "to", "", "backup file to create (required)")
	backup.MarkFlagRequired("to")

	var from, restoreData string
	var force bool
	restore := &cobra.Command{
		Use:   "restore --from FILE --data DIR [--force]",
		Short: "Replace the database with a backup (zhizhi must be stopped)",
		Long: `Restore checks the backup FILE (a zhizhi database, PRAGMA integrity_check, a schema version this zhizhi
understands: a backup from a newer zhizhi is refused) and copies it to <data>/zhizhi.db. It refuses while a
server runs on that data directory (the database is open), and refuses to replace an existing database
without --force. The next "zhizhi up" migrates the restored database if it is older than this zhizhi.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dst := filepath.Join(restoreData, dbFile)
			info, err := store.Restore(cmd.Context(), from, dst, store.RestoreOptions{Force: force})
			switch {
			case errors.Is(err, store.ErrInUse):
				return fmt.Errorf("%s is in use: a zhizhi server is running on %s; stop it first (systemctl stop zhizhi)", dst, restoreData)
			case errors.Is(err, store.ErrExists):
				return fmt.Errorf("%s exists: pass --force to replace it (back it up first with \"zhizhi backup --data %s --to FILE\")", dst, restoreData)
			case err != nil:
				return err
			}
			// Run as root, the copy belongs to root: give it to the owner of the data directory (the service
			// user), or the server could not open it.
			if uid, gid, ok := ownerOf(restoreData); ok && os.Geteuid() == 0 && uid != 0 {
				if err := os.Chown(dst, uid, gid); err != nil {
					return fmt.Errorf("restored, but: %w", err)
				}
			}
			fmt.Fprintf(c.out, "restored %s to %s\n", from, dst)
			printInfo(c.out, info)
			return nil
		},
	}
	restore.Flags().StringVar(&from, "from", "", "backup file written by \"zhizhi backup\" (required)")
	restore.Flags().StringVar(&restoreData, "data", "./data", "data directory of the server")
	restore.Flags().BoolVar(&force, "force", false, "replace an existing database")
	restore.MarkFlagRequired("from")
	return []*cobra.Command{backup, restore}
}

// ownerOf returns the owner of path where the system has owners (the Uid and Gid of a Unix stat).
func ownerOf(path string) (uid, gid int, ok bool) {
	fi, err := os.Stat(path)
	if err != nil || fi.Sys() == nil {
		return 0, 0, false
	}
	v := reflect.Indirect(reflect.ValueOf(fi.Sys()))
	if v.Kind() != reflect.Struct {
		return 0, 0, false
	}
	u, g := v.FieldByName("Uid"), v.FieldByName("Gid")
	if !u.IsValid() || !g.IsValid() || !u.CanUint() || !g.CanUint() {
		return 0, 0, false
	}
	return int(u.Uint()), int(g.Uint()), true
}

func printInfo(w io.Writer, info store.BackupInfo) {
	fmt.Fprintf(w, "schema version %d, %d agents, %d raw samples, %.1f MiB\n",
		info.SchemaVersion, info.Agents, info.Samples, float64(info.Bytes)/(1<<20))
}

// isTerminal reports whether w is a terminal (a progress bar redraws itself there; in logs and pipes it would
// pile up).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newBar returns a byte progress bar on w when w is a terminal, else nil (no bar in logs and pipes).
func newBar(w io.Writer, desc string) *progressbar.ProgressBar {
	if !isTerminal(w) {
		return nil
	}
	return progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription(desc), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionUseIECUnits(true))
}
