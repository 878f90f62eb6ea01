// Package report renders what managers read: tables as aligned text (CJK
// characters counted two columns wide) or as CSV for scripts, and charts
// as standalone SVG documents — a sales funnel, and bars by category with
// one or more series (the pipeline by stage, one series per currency).
//
// It knows nothing of where the figures come from: the CLI fills a
// [Table], [Funnel] or [Bars] from the KPI and pipeline services and
// writes it. Every label is escaped, so a stage or customer name can hold
// any text, and a chart is valid XML for any input; bad input (a series
// whose length differs from the categories, a negative count) is an error
// naming the field.
package report
