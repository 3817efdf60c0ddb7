// Package consolee2e holds the end-to-end tests of the web console: they drive Debian's Chromium through
// chromedp against the real zhizhi binary (and, for the heatmap benchmark, an in-process console).
package consolee2e
