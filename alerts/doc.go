// Package alerts is where notices are made from what the analyzer finds: rules, grouping, escalation (智能催办)
// and delivery by e-mail and webhooks, as separate stages. It holds no code yet: the issues delivered so far end
// at the analyzer's findings, reports and Prometheus metrics; notices are later work.
package alerts
