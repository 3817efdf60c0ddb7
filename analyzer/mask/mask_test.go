package mask

import (
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	f := func(name, in, want string) {
		t.Helper()
		if got := Text(in); got != want {
			t.Errorf("%s: Text(%q) = %q, want %q", name, in, got, want)
		}
	}
	f("id18", "身份证号110101199003071234。", "身份证号[身份证号]。")
	f("id18 X", "证件:11010119900307123X", "证件:[身份证号]")
	f("id18 lower x", "11010119900307123x号", "[身份证号]号")
	f("id15", "旧证110101900307123", "旧证[身份证号]")
	f("id full-width", "１１０１０１１９９００３０７１２３Ｘ", "[身份证号]")
	f("mobile", "电话13800138000。", "电话[手机号]。")
	f("mobile +86", "call +86 138 0013 8000 now", "call [手机号] now")
	f("mobile dashes", "138-0013-8000", "[手机号]")
	f("mobile 0086", "008613912345678", "[手机号]")
	f("mobile full-width", "１３９１２３４５６７８", "[手机号]")
	f("landline", "座机010-62345678转", "座机[电话]转")
	f("landline ext", "0571-87654321-123", "[电话]")
	f("landline parens", "（0571）87654321", "[电话]")
	f("landline space", "021 12345678", "[电话]")
	f("date untouched", "2026年3月5日至2026-03-31", "2026年3月5日至2026-03-31")
	f("12 digits untouched", "计数器123456789012", "计数器123456789012")
	f("mobile inside longer run untouched as phone", "1380013800099", "1380013800099")
	f("percent untouched", "CPU 37.5%，12台", "CPU 37.5%，12台")
	f("labelled name", "联系人：李四，电话13800138000", "联系人：李*，电话[手机号]")
	f("labelled name ascii colon", "姓名: 欧阳娜娜", "姓名: 欧阳**")
	f("负责人", "负责人：王小明", "负责人：王**")
	f("empty", "", "")
}

func TestMaskerKnownNames(t *testing.T) {
	m := New(Redact, "张三", "司马相如", "", "张三")
	got := m.Text("系统管理员张三与司马相如确认，张三电话13912345678")
	want := "系统管理员张*与司马**确认，张*电话[手机号]"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestPartial(t *testing.T) {
	m := New(Partial)
	got := m.Text("11010119900307123X 13800138000 010-62345678")
	want := "110101********123X 138****8000 010-******78"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"张三": "张*", "王小明": "王**", "欧阳娜娜": "欧阳**", "欧阳": "欧*", "李": "*", "": "",
		"John Smith": "J*** *****",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNoDigitsLeftInRedact(t *testing.T) {
	in := "张三 身份证 110101199003071234 手机 +86-139-1234-5678 座机 (010)62345678"
	got := New(Redact, "张三").Text(in)
	if strings.ContainsAny(got, "0123456789") {
		t.Fatalf("digits remain: %q", got)
	}
}
