package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"zhizhi/analyzer/detect"
	"zhizhi/analyzer/narrative"
	"zhizhi/analyzer/report"
	"zhizhi/collector/store"
)

// analyzeClock is the evaluation clock of the analyzer commands; tests replace it.
var analyzeClock = time.Now

// newFindings returns the analyzer engine of a running server or a command: findings, exceptions and
// reports over st, with the LLM of f when one is configured (templates only otherwise).
func newFindings(st *store.Store, f llmFlags, log *slog.Logger, clock func() time.Time) (*report.Engine, error) {
	comp, err := f.completer(log)
	if err != nil {
		return nil, err
	}
	return report.New(st, report.Options{Completer: comp, Clock: clock, Logger: log})
}

// withExistingStore runs fn on the database of dataDir, which must exist.
func (c *cli) withExistingStore(ctx context.Context, dataDir string, fn func(st *store.Store) error) error {
	return withExistingStore(ctx, dataDir, c.log, fn)
}

// analyzeCmds are the analyzer's commands: findings, exceptions and report.
func (c *cli) analyzeCmds() []*cobra.Command {
	return []*cobra.Command{c.findingsCmd(), c.exceptionsCmd(), c.reportCmd(), c.llmCmd()}
}

func (c *cli) findingsCmd() *cobra.Command {
	var dataDir, kind, dept string
	cmd := &cobra.Command{
		Use:   "findings",
		Short: "List idle (zombie), underused and overloaded hosts with their evidence",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kind != "" && !containsKind(detect.Kind(kind)) {
				return fmt.Errorf("--kind %q: want one of %s", kind, kindList())
			}
			return c.withExistingStore(cmd.Context(), dataDir, func(st *store.Store) error {
				eng, err := report.New(st, report.Options{Clock: analyzeClock, Logger: c.log})
				if err != nil {
					return err
				}
				snap, err := eng.Evaluate(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(c.out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "DEPARTMENT\tSYSTEM\tHOST\tFINDING\tSTATUS\tCONFIDENCE\tIDLE30\tRUN\tCPU_P95\tMEM_P99\tCOVERAGE\tLAST_ACTIVE\tDISK_FULL")
				for _, r := range snap.Rows {
					if kind != "" && string(r.Finding.Kind) != kind || dept != "" && r.Department != dept {
						continue
					}
					ev := r.Finding.Evidence
					full := "-"
					if ev.DiskTrend != nil && !ev.DiskTrend.ProjectedFull.IsZero() {
						full = ev.DiskTrend.ProjectedFull.Format(time.DateOnly)
					}
					last := "-"
					if !ev.LastActiveDay.IsZero() {
						last = ev.LastActiveDay.Format(time.DateOnly)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%.1f\t%.1f\t%.1f%%\t%s\t%s\n", r.Department, r.System, r.Host,
						r.Finding.Kind, r.Finding.Status, r.Finding.Confidence, ev.IdleDays30, ev.CurrentRun.IdleDays,
						ev.WindowCPUP95, ev.WindowMemP99, 100*ev.Coverage30, last, full)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "./data", "data directory of the server")
	cmd.Flags().StringVar(&kind, "kind", "", "only this kind: "+kindList())
	cmd.Flags().StringVar(&dept, "department", "", "only this department")
	return cmd
}

func containsKind(k detect.Kind) bool {
	for _, x := range report.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

func kindList() string {
	var s []string
	for _, k := range report.Kinds {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

func (c *cli) exceptionsCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "exceptions",
		Short: "Add, list and delete analyzer exceptions (DR standby, scheduled batch, seasonal)",
		Long: `An exception states why a host, or every host of a system, may look idle: a disaster-recovery standby,
a scheduled batch (with its schedule) or seasonal use (with its busy months). While live it marks the findings
it covers as excepted; it lasts at most 12 months, and once expired the findings return.`,
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data", "./data", "data directory of the server")
	engine := func(st *store.Store) (*report.Engine, error) {
		return report.New(st, report.Options{Clock: analyzeClock, Logger: c.log})
	}

	var x struct {
		typ, system, owner, reason, schedule, months, expires string
		host                                                  int64
	}
	add := &cobra.Command{
		Use:   "add --type TYPE (--host-id ID | --system NAME) --owner NAME --reason TEXT --expires YYYY-MM-DD",
		Short: "Register an exception",
		Example: `  zhizhi exceptions add --type dr-standby --host-id 12 --owner 张三 --reason "同城灾备" --expires 2027-06-30
  zhizhi exceptions add --type scheduled-batch --system 财务月结系统 --schedule "monthly last 3" --owner 李四 --reason 月末结账 --expires 2027-05-31
  zhizhi exceptions add --type seasonal --system 统计年报系统 --months 3,4 --owner 王五 --reason 年报季 --expires 2027-04-30`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			expires, err := time.ParseInLocation(time.DateOnly, x.expires, detect.Location)
			if err != nil {
				return fmt.Errorf("--expires %q: want YYYY-MM-DD", x.expires)
			}
			e := detect.Exception{Type: detect.ExceptionType(x.typ), HostID: x.host, System: x.system, Owner: x.owner,
				Reason: x.reason, Schedule: x.schedule, Expires: expires}
			for _, f := range strings.FieldsFunc(x.months, func(r rune) bool { return r == ',' || r == ' ' }) {
				m, err := strconv.Atoi(f)
				if err != nil {
					return fmt.Errorf("--months %q: want month numbers separated by commas", x.months)
				}
				e.Months = append(e.Months, time.Month(m))
			}
			return c.withExistingStore(cmd.Context(), dataDir, func(st *store.Store) error {
				eng, err := engine(st)
				if err != nil {
					return err
				}
				saved, err := eng.AddException(cmd.Context(), e)
				if err != nil {
					return fmt.Errorf("exception: %w", err)
				}
				fmt.Fprintf(c.out, "exception %d added (%s, expires %s)\n", saved.ID, saved.Type, saved.Expires.In(detect.Location).Format(time.DateOnly))
				return nil
			})
		},
	}
	add.Flags().StringVar(&x.typ, "type", "", "dr-standby, scheduled-batch or seasonal (required)")
	add.Flags().Int64Var(&x.host, "host-id", 0, "the one host it covers")
	add.Flags().StringVar(&x.system, "system", "", "or: every host of this system")
	add.Flags().StringVar(&x.owner, "owner", "", "who answers for it (required)")
	add.Flags().StringVar(&x.reason, "reason", "", "why the host is idle (required)")
	add.Flags().StringVar(&x.schedule, "schedule", "", `scheduled-batch: "daily", "weekly mon,wed-fri", "monthly day 28-31", "monthly last 3" or a cron expression`)
	add.Flags().StringVar(&x.months, "months", "", "seasonal: busy months, e.g. 3,4")
	add.Flags().StringVar(&x.expires, "expires", "", "end date YYYY-MM-DD, at most 12 months ahead (required)")
	add.MarkFlagRequired("type")
	add.MarkFlagRequired("expires")

	list := &cobra.Command{
		Use:   "list",
		Short: "List exceptions, expired ones included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withExistingStore(cmd.Context(), dataDir, func(st *store.Store) error {
				eng, err := engine(st)
				if err != nil {
					return err
				}
				xs, err := eng.Exceptions(cmd.Context())
				if err != nil {
					return err
				}
				now := analyzeClock()
				tw := tabwriter.NewWriter(c.out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTYPE\tSCOPE\tOWNER\tREASON\tSCHEDULE\tCREATED\tEXPIRES\tSTATE")
				for _, x := range xs {
					scope := "host " + strconv.FormatInt(x.HostID, 10)
					if x.HostID == 0 {
						scope = "system " + x.System
					}
					sched := x.Schedule
					for i, m := range x.Months {
						if i > 0 || sched != "" {
							sched += ","
						}
						sched += strconv.Itoa(int(m))
					}
					state := "live"
					if !x.Live(now) {
						state = "expired"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.Type, scope, x.Owner, x.Reason, dashIfEmpty(sched),
						x.Created.In(detect.Location).Format(time.DateOnly), x.Expires.In(detect.Location).Format(time.DateOnly), state)
				}
				return tw.Flush()
			})
		},
	}
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an exception",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("exception id %q: not a number", args[0])
			}
			return c.withExistingStore(cmd.Context(), dataDir, func(st *store.Store) error {
				eng, err := engine(st)
				if err != nil {
					return err
				}
				if err := eng.DeleteException(cmd.Context(), id); err != nil {
					return err
				}
				fmt.Fprintf(c.out, "exception %d deleted\n", id)
				return nil
			})
		},
	}
	cmd.AddCommand(add, list, del)
	return cmd
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cli) reportCmd() *cobra.Command {
	var dataDir, month, dept, format, out, lang string
	var lf llmFlags
	cmd := &cobra.Command{
		Use:   "report --month YYYY-MM [--department NAME] --format html|md --out FILE",
		Short: "Write the monthly zombie/overload report (district or one department)",
		Long: `Write the monthly report: a district overview, a paragraph per department with its systems, and a
recommendation per finding (关停 / 整合 / 扩容 / 保留并说明理由). With an LLM configured the text is written by
the model and checked against the computed facts (a rejected answer falls back to the template); without one
the templates write it. The appendix records each section's source, model, prompt hash and rejections.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := time.ParseInLocation("2006-01", month, detect.Location)
			if err != nil {
				return fmt.Errorf("--month %q: want YYYY-MM", month)
			}
			if format != report.FormatHTML && format != report.FormatMarkdown {
				return fmt.Errorf("--format %q: want html or md", format)
			}
			if lang != string(narrative.ZH) && lang != string(narrative.EN) {
				return fmt.Errorf("--lang %q: want zh or en", lang)
			}
			return c.withExistingStore(cmd.Context(), dataDir, func(st *store.Store) error {
				eng, err := newFindings(st, lf, c.log, analyzeClock)
				if err != nil {
					return err
				}
				doc, err := eng.Generate(cmd.Context(), report.Request{Month: m, Department: dept, Lang: narrative.Lang(lang),
					Demo: st.IsDemo(cmd.Context())})
				if err != nil {
					return err
				}
				body, err := report.Render(doc, format)
				if err != nil {
					return err
				}
				if out == "" || out == "-" {
					_, err = c.out.Write(body)
					return err
				}
				if err := writeFileAtomic(out, body); err != nil {
					return err
				}
				llmN := 0
				for _, s := range doc.Result.Sections {
					if s.Source == narrative.SourceLLM {
						llmN++
					}
				}
				fmt.Fprintf(c.errOut, "wrote %s (%d sections, %d by the LLM)\n", out, len(doc.Result.Sections), llmN)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "./data", "data directory of the server")
	cmd.Flags().StringVar(&month, "month", "", "month to report, YYYY-MM (required)")
	cmd.Flags().StringVar(&dept, "department", "", "only this department (default: the whole district)")
	cmd.Flags().StringVar(&format, "format", report.FormatMarkdown, "html or md")
	cmd.Flags().StringVar(&out, "out", "", "output file (default: standard output)")
	cmd.Flags().StringVar(&lang, "lang", string(narrative.ZH), "zh or en")
	cmd.MarkFlagRequired("month")
	lf.register(cmd.Flags())
	return cmd
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}
