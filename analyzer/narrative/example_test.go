package narrative_test

import (
	"context"
	"fmt"
	"time"

	"zhizhi/analyzer/llm"
	"zhizhi/analyzer/narrative"
)

// A reminder notice written without an LLM: the same Section gets model prose when a Completer is set.
func ExampleService_Generate() {
	completer, err := llm.FromConfig(llm.Config{}, nil) // nothing configured: templates only
	if err != nil {
		panic(err)
	}
	svc := &narrative.Service{Completer: completer, Clock: func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }}
	sec := narrative.Section{
		Key:         "notice",
		Instruction: map[narrative.Lang]string{narrative.ZH: "撰写一段提醒通知，请该部门核实闲置系统。"},
		Facts: []narrative.Fact{
			narrative.Count("idle", "连续空闲天数", 95, "天", "days"),
			narrative.Day("deadline", "核实截止日期", time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)),
		},
		Entities: []narrative.Entity{
			{ID: "dept", Kind: narrative.KindDepartment, Name: "区文旅局"},
			{ID: "sys", Kind: narrative.KindSystem, Name: "景区票务系统"},
		},
		Template: map[narrative.Lang]string{
			narrative.ZH: `{{name "dept"}}：经监测，贵单位{{name "sys"}}已连续空闲{{fact "idle"}}。请于{{fact "deadline"}}前核实使用情况并反馈处置意见。`,
		},
	}
	res, err := svc.Generate(context.Background(), narrative.Doc{Sections: []narrative.Section{sec}}, narrative.ZH)
	if err != nil {
		panic(err)
	}
	out := res.Sections[0]
	fmt.Println(out.Source, out.FactIDs)
	fmt.Println(out.Text)
	// Output:
	// template [idle deadline]
	// 区文旅局：经监测，贵单位景区票务系统已连续空闲95天。请于2026年4月15日前核实使用情况并反馈处置意见。
}
