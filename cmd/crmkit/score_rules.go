package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
)

// ruleColumn is a lead field a rule model reads and the CSV column that
// holds it.
type ruleColumn struct {
	field string // "industry", "company_size", "fields.budget"
	col   int
	// custom fields: the kind the rules compare the value as.
	number, boolean bool
}

// ruleFields walks every condition of a rule model and returns the lead
// fields it reads, in the order they first appear, and whether any rule
// counts engagement events. For a custom field it notes whether the rules
// compare it as a number (a range, or a number literal) or a yes/no.
func ruleFields(spec lead.ModelSpec) (fields []ruleColumn, events bool) {
	seen := map[string]int{}
	var walk func(c *cond.Condition, depth int)
	walk = func(c *cond.Condition, depth int) {
		if c == nil || depth > cond.MaxDepth*2 {
			return
		}
		if c.Event != nil {
			events = true
		}
		if c.Field != "" {
			i, ok := seen[c.Field]
			if !ok {
				i = len(fields)
				seen[c.Field] = i
				fields = append(fields, ruleColumn{field: c.Field})
			}
			lits := append([]json.RawMessage{c.Equals}, c.In...)
			if c.Range != nil {
				fields[i].number = true
			}
			for _, l := range lits {
				s := strings.TrimSpace(string(l))
				switch {
				case s == "true" || s == "false":
					fields[i].boolean = true
				case s != "" && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')):
					fields[i].number = true
				}
			}
		}
		for k := range c.All {
			walk(&c.All[k], depth+1)
		}
		for k := range c.Any {
			walk(&c.Any[k], depth+1)
		}
		walk(c.Not, depth+1)
	}
	for _, sec := range []lead.SectionSpec{spec.Fit, spec.Engagement} {
		for _, g := range sec.Groups {
			for _, r := range g.Rules {
				walk(r.When, 0)
			}
		}
	}
	return fields, events
}

// ruleColumnName is the column that holds field: the field's own name, or
// for a custom field "fields.NAME" either that or plain NAME.
func ruleColumnIndex(header []string, field string) int {
	if i := slices.Index(header, field); i >= 0 {
		return i
	}
	if name, ok := strings.CutPrefix(field, cond.CustomFieldPrefix); ok {
		return slices.Index(header, name)
	}
	return -1
}

// rowLead builds the lead a rule model scores from one CSV row. An empty
// cell leaves its field unset.
func rowLead(row []string, cols []ruleColumn) (*crm.Lead, error) {
	l := &crm.Lead{}
	for _, c := range cols {
		v := row[c.col]
		if v == "" {
			continue
		}
		switch c.field {
		case "name":
			l.Name = v
		case "company":
			l.Company = v
		case "title":
			l.Title = v
		case "email":
			l.Email = v
		case "phone":
			l.Phone = v
		case "industry":
			l.Industry = v
		case "region":
			l.Region = v
		case "source":
			l.Source = v
		case "status":
			l.Status = crm.LeadStatus(v)
		case "company_size":
			n, err := strconv.Atoi(strings.ReplaceAll(v, ",", ""))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("column %q: want a whole number of employees, got %q", c.field, truncateName(v))
			}
			l.CompanySize = n
		case "tags":
			l.Tags = strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' || r == '|' })
			for i := range l.Tags {
				l.Tags[i] = strings.TrimSpace(l.Tags[i])
			}
		case "owner_id", "department_id", "created_by":
			id, err := crm.ParseID(c.field, v)
			if err != nil {
				return nil, fmt.Errorf("column %q: %w", c.field, err)
			}
			switch c.field {
			case "owner_id":
				l.OwnerID = id
			case "department_id":
				l.DepartmentID = id
			default:
				l.CreatedBy = id
			}
		default:
			name, ok := strings.CutPrefix(c.field, cond.CustomFieldPrefix)
			if !ok {
				return nil, fmt.Errorf("column %q: not a lead field", c.field)
			}
			if l.Fields == nil {
				l.Fields = crm.Fields{}
			}
			switch {
			case c.number:
				d, err := decimal.NewFromString(strings.ReplaceAll(v, ",", ""))
				if err != nil {
					return nil, fmt.Errorf("column %q: want a number, got %q", c.field, truncateName(v))
				}
				l.Fields[name] = crm.Number(d)
			case c.boolean:
				b, err := parseYesNo(v)
				if err != nil {
					return nil, fmt.Errorf("column %q: %w", c.field, err)
				}
				l.Fields[name] = crm.Bool(b)
			default:
				l.Fields[name] = crm.String(v)
			}
		}
	}
	return l, nil
}

// parseYesNo reads true/false, yes/no, 1/0, 是/否.
func parseYesNo(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "y", "1", "是":
		return true, nil
	case "false", "no", "n", "0", "否":
		return false, nil
	}
	return false, fmt.Errorf("want true or false, got %q", truncateName(s))
}

// ruleScoreHeader is the header of "score apply --rules" output.
var ruleScoreHeader = []string{"id", "score", "fit", "engagement", "grade", "stage", "rules"}

// scoreApplyRules scores a CSV file with a rule-based lead model.
func scoreApplyRules(rulesPath, in, id, out, enc string, skipBad bool, stdout, stderr io.Writer) error {
	data, err := os.ReadFile(rulesPath)
	if err != nil {
		return fmt.Errorf("score apply: --rules: %w", err)
	}
	m, err := lead.ParseModel(data)
	if err != nil {
		return fmt.Errorf("score apply: --rules %s: %w", rulesPath, err)
	}
	cols, events := ruleFields(m.Spec())
	header, rows, lines, err := readAllCSV(in, enc, skipBad, stderr)
	if err != nil {
		return fmt.Errorf("score apply: %w", err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("score apply: %s: no data rows", in)
	}
	j := slices.Index(header, id)
	if j < 0 {
		return fmt.Errorf("score apply: %s: no column %q", in, id)
	}
	// A field the file lacks would leave every rule on it unmatched: the
	// same points for all, silently.
	var missing []string
	for i := range cols {
		if cols[i].col = ruleColumnIndex(header, cols[i].field); cols[i].col < 0 {
			missing = append(missing, cols[i].field)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("score apply: %s lacks %d of the %d columns the rules read: %s", in, len(missing), len(cols), listSome(missing, 10))
	}
	if events {
		fmt.Fprintln(stderr, "score apply: warning: rules that count engagement events give nothing: a CSV row has no events")
	}
	now := time.Now()
	scored := 0
	err = writeCSVFile(out, func(w *csv.Writer) error {
		if err := w.Write(ruleScoreHeader); err != nil {
			return err
		}
		for k, row := range rows {
			l, err := rowLead(row, cols)
			if err != nil {
				if skipBad {
					fmt.Fprintf(stderr, "skipped: %s line %d: %v\n", in, lines[k], err)
					continue
				}
				return &badRowError{path: in, line: lines[k], reason: err.Error()}
			}
			ex := m.Explain(l, nil, now)
			var matched []string
			for _, c := range ex.Contributions {
				matched = append(matched, c.Rule)
			}
			r := ex.Result
			if err := w.Write([]string{row[j], fmtPoints(r.Total), fmtPoints(r.Fit), fmtPoints(r.Engagement), r.Grade,
				string(r.Stage), strings.Join(matched, ";")}); err != nil {
				return err
			}
			scored++
		}
		return nil
	})
	if err != nil {
		var bad *badRowError
		if errors.As(err, &bad) {
			return fmt.Errorf("score apply: %w (use --skip-bad-rows to skip such rows)", err)
		}
		return fmt.Errorf("score apply: %w", err)
	}
	fmt.Fprintf(stdout, "scored %d rows with rule model %s v%d; wrote %s\n", scored, m.ID(), m.Version(), out)
	return nil
}

// fmtPoints prints points to two decimals, without trailing zeros.
func fmtPoints(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) }
