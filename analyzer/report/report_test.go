package report_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"zhizhi/analyzer/detect"
	"zhizhi/analyzer/llm"
	"zhizhi/analyzer/llm/llmtest"
	"zhizhi/analyzer/narrative"
	"zhizhi/analyzer/report"
	"zhizhi/analyzer/report/reporttest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	phone    = "13812345678"
	idNumber = "110101199003071234"
)

// seedWithException is the six-case fixture with the standby's exception, whose owner and reason hold a
// person's name, a phone number and an ID number.
func seedWithException(t *testing.T, opts report.Options) (*report.Engine, reporttest.Fixture) {
	t.Helper()
	fx := reporttest.Seed(t)
	c := &clock{reporttest.Now}
	e := newEngine(t, fx.Store, c, opts)
	_, err := e.AddException(context.Background(), detect.Exception{Type: detect.ExceptDRStandby,
		HostID: fx.Hosts[reporttest.StandbySystem], Owner: "张三",
		Reason:  "同城灾备，联系电话" + phone + "，身份证" + idNumber,
		Created: time.Date(2026, 10, 1, 0, 0, 0, 0, detect.Location), Expires: time.Date(2027, 4, 1, 0, 0, 0, 0, detect.Location)})
	if err != nil {
		t.Fatal(err)
	}
	return e, fx
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test -update)", name, err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

// TestReportTemplateGolden writes the November report without an LLM, in Chinese and English.
func TestReportTemplateGolden(t *testing.T) {
	e, _ := seedWithException(t, report.Options{})
	for _, lang := range []narrative.Lang{narrative.ZH, narrative.EN} {
		doc, err := e.Generate(context.Background(), report.Request{Month: time.Date(2026, 11, 1, 0, 0, 0, 0, detect.Location), Lang: lang})
		if err != nil {
			t.Fatal(err)
		}
		md := report.Markdown(doc)
		golden(t, "report-2026-11."+string(lang)+".md", md)
		for _, o := range doc.Result.Sections {
			if o.Source != narrative.SourceTemplate || o.Text == "" {
				t.Errorf("%s: source %s text %q", o.Key, o.Source, o.Text)
			}
		}
		s := string(md)
		for _, leak := range []string{phone, idNumber, "张三"} {
			if strings.Contains(s, leak) {
				t.Errorf("%s report contains %q", lang, leak)
			}
		}
		for _, want := range []string{reporttest.IdleSystem, reporttest.OverSystem, reporttest.StandbyDept} {
			if !strings.Contains(s, want) {
				t.Errorf("%s report lacks %q", lang, want)
			}
		}
		page, err := report.Render(doc, report.FormatHTML)
		if err != nil || !strings.Contains(string(page), "<h1>"+doc.Title+"</h1>") {
			t.Errorf("html: %v", err)
		}
	}
	if strings.Count(string(mustRead(t, "testdata/report-2026-11.zh.md")), "关停") == 0 ||
		!strings.Contains(string(mustRead(t, "testdata/report-2026-11.zh.md")), "扩容") {
		t.Errorf("zh report lacks the shutdown and expansion recommendations")
	}
}

// TestReportDepartment limits a report to one department and refuses an unknown one.
func TestReportDepartment(t *testing.T) {
	e, _ := seedWithException(t, report.Options{})
	doc, err := e.Generate(context.Background(), report.Request{Month: reporttest.Now, Department: reporttest.OverDept})
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Departments) != 1 || doc.Departments[0].Name != reporttest.OverDept || !strings.HasPrefix(doc.Title, reporttest.OverDept) {
		t.Fatalf("department report: %q %+v", doc.Title, doc.Departments)
	}
	if len(doc.Departments[0].Items) == 0 || doc.Departments[0].Items[0].Action != report.ActionExpand {
		t.Errorf("items %+v, want an expansion", doc.Departments[0].Items)
	}
	if _, err := e.Generate(context.Background(), report.Request{Month: reporttest.Now, Department: "不存在的部门"}); err == nil {
		t.Errorf("unknown department: no error")
	}
	if _, err := e.Generate(context.Background(), report.Request{Month: reporttest.Now.AddDate(0, 1, 0)}); err == nil {
		t.Errorf("future month: no error")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var dataRe = regexp.MustCompile(`(?s)<<<DATA-[0-9a-f]+\n(.*)\nDATA-[0-9a-f]+>>>`)

// factsOf returns the facts a recorded request sent.
func factsOf(t *testing.T, r llmtest.Request) []struct{ ID, Display string } {
	t.Helper()
	user := r.Chat.Messages[len(r.Chat.Messages)-1].Content
	m := dataRe.FindStringSubmatch(user)
	if m == nil {
		t.Fatalf("no data block in %q", user)
	}
	var db struct {
		Facts []struct{ ID, Display string }
	}
	if err := json.Unmarshal([]byte(m[1]), &db); err != nil {
		t.Fatalf("data block: %v", err)
	}
	return db.Facts
}

func completer(t *testing.T, srv *llmtest.Server) llm.Completer {
	t.Helper()
	c, err := llm.New(llm.Config{BaseURL: srv.BaseURL(), Model: "qwen-test", Timeout: 5 * time.Second, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReportLLM: a grounded answer is used (source llm, model and prompt hash recorded); an answer with a
// number that is no fact is rejected, retried once, and replaced by the template with the reasons recorded.
// No request carries the ID number, the phone number or the owner's name.
func TestReportLLM(t *testing.T) {
	good := func(t *testing.T) func(int, llmtest.Request) llmtest.Reply {
		return func(_ int, r llmtest.Request) llmtest.Reply {
			f := factsOf(t, r)[0]
			return llmtest.Answer("经监测分析，相关数据为"+f.Display+"，特此报告。", f.ID)
		}
	}
	wrong := func(*testing.T) func(int, llmtest.Request) llmtest.Reply {
		return func(_ int, r llmtest.Request) llmtest.Reply {
			return llmtest.Answer("共有987个系统处于闲置状态。")
		}
	}
	for _, tc := range []struct {
		name    string
		handler func(*testing.T) func(int, llmtest.Request) llmtest.Reply
		source  string
	}{
		{"grounded", good, narrative.SourceLLM},
		{"wrong number", wrong, narrative.SourceTemplate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.New(t, tc.handler(t))
			e, _ := seedWithException(t, report.Options{Completer: completer(t, srv)})
			doc, err := e.Generate(context.Background(), report.Request{Month: reporttest.Now, Lang: narrative.ZH})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range doc.Result.Sections {
				if o.Source != tc.source || o.PromptHash == "" || o.Model != "qwen-test" {
					t.Errorf("%s: source %s model %q hash %q, want %s", o.Key, o.Source, o.Model, o.PromptHash, tc.source)
				}
				if tc.source == narrative.SourceTemplate && (len(o.Rejections) != 2 || !strings.Contains(o.Rejections[0], "987")) {
					t.Errorf("%s: rejections %q, want two naming 987", o.Key, o.Rejections)
				}
				if tc.source == narrative.SourceLLM && !strings.HasPrefix(o.Text, "经监测分析") {
					t.Errorf("%s: text %q is not the model's", o.Key, o.Text)
				}
			}
			md := string(report.Markdown(doc))
			if tc.source == narrative.SourceTemplate && !strings.Contains(md, "987") {
				t.Errorf("the appendix does not show the rejection reasons")
			}
			if tc.source == narrative.SourceLLM && (!strings.Contains(md, "| llm | qwen-test |") || strings.Contains(md, "987")) {
				t.Errorf("the appendix does not record the llm source:\n%s", md)
			}
			reqs := srv.Requests()
			if len(reqs) < len(doc.Result.Sections) {
				t.Fatalf("%d requests for %d sections", len(reqs), len(doc.Result.Sections))
			}
			sawReason := false
			for _, r := range reqs {
				body := string(r.Body)
				for _, leak := range []string{phone, idNumber, "张三"} {
					if strings.Contains(body, leak) {
						t.Errorf("request carries %q", leak)
					}
				}
				sawReason = sawReason || strings.Contains(body, "同城灾备")
			}
			if !sawReason {
				t.Errorf("no request carried the (masked) exception reason: the privacy assertion would be vacuous")
			}
		})
	}
}
