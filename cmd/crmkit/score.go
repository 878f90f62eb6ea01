package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
)

const scoreUsage = `usage:
  crmkit score train --in FILE.csv --label COLUMN --id COLUMN [--exclude COL,COL...] [--model nb|logreg|gbt|ensemble|auto] [--skip-bad-rows] --out MODEL.json
  crmkit score apply (--model MODEL.json | --rules RULES.json) --in FILE.csv --id COLUMN [--skip-bad-rows] --out FILE.csv

apply --model scores with a model from score train and writes id,score (the probability of
converting). apply --rules scores with a rule-based lead model (the JSON a host loads with
lead.ParseModel) and writes id,score,fit,engagement,grade,stage,rules (points, the A1..D4
grade, the suggested stage and the matched rules' ids, separated by ";"). A rule on a lead
field reads the column of that name (industry, company_size, title, tags, ...); a rule on a
custom field "fields.NAME" reads the column "fields.NAME" or "NAME". A CSV row has no
engagement events: rules that count events give nothing.`

// runScore runs "crmkit score train|apply".
func runScore(args []string, stdout, stderr io.Writer) error {
	return runSubcommand("score", scoreUsage, map[string]subcommand{"train": scoreTrain, "apply": scoreApply}, args, stdout, stderr)
}

func scoreRequire(cmd string, flags [][2]string) error {
	for _, f := range flags {
		if f[1] == "" {
			return usageError{fmt.Sprintf("score %s: --%s is required\n%s", cmd, f[0], scoreUsage)}
		}
	}
	return nil
}

func scoreTrain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("score train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "training CSV file with a header row")
	label := fs.String("label", "", "outcome column (0/1, true/false, yes/no)")
	id := fs.String("id", "", "ID column, never learned from")
	exclude := fs.String("exclude", "", "comma-separated columns not to learn from")
	model := fs.String("model", string(lead.Ensemble), "nb, logreg, gbt, ensemble or auto")
	out := fs.String("out", "", "model JSON file to write")
	skipBad := fs.Bool("skip-bad-rows", false, "skip rows that are not valid CSV or have the wrong number of cells, reporting each on stderr")
	enc := encodingFlag(fs)
	if done, err := parseFlags(fs, args, "score train"); done {
		return err
	}
	if err := checkEncoding("score train", *enc); err != nil {
		return err
	}
	if err := scoreRequire("train", [][2]string{{"in", *in}, {"label", *label}, {"id", *id}, {"out", *out}}); err != nil {
		return err
	}
	tbl, lines, err := scoreReadCSV(*in, *enc, *skipBad, stderr)
	if err != nil {
		return fmt.Errorf("score train: %w", err)
	}
	j := scoreColumn(tbl, *label)
	if j < 0 {
		return fmt.Errorf("score train: %s: no column %q", *in, *label)
	}
	if scoreColumn(tbl, *id) < 0 {
		return fmt.Errorf("score train: %s: no column %q", *in, *id)
	}
	// Check labels here, where line numbers are known.
	for i, row := range tbl.Rows {
		if _, err := lead.ParseLabel(row[j]); err != nil {
			return fmt.Errorf("score train: %s line %d: column %q: %v", *in, lines[i], *label, err)
		}
	}
	cfg := &lead.TrainConfig{Label: *label, Exclude: []string{*id}, Algorithm: lead.Algorithm(*model)}
	for _, c := range strings.Split(*exclude, ",") {
		if c = strings.TrimSpace(c); c != "" && c != *id {
			cfg.Exclude = append(cfg.Exclude, c)
		}
	}
	if idLike := lead.IDLike(tbl, append([]string{*label}, cfg.Exclude...)...); len(idLike) > 0 {
		// A column of (nearly) unique values is an identifier: learning
		// from it fits the training rows and predicts nothing.
		cfg.Exclude = append(cfg.Exclude, idLike...)
		fmt.Fprintf(stderr, "score train: left out %s: nearly every value is unique, as in an ID column\n", listSome(idLike, 10))
	}
	p, err := lead.Train(tbl, cfg)
	if err != nil {
		return scoreTrainError(*in, err)
	}
	b, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		return fmt.Errorf("score train: %w", err)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("score train: %w", err)
	}
	fmt.Fprintf(stdout, "trained %s on %d rows, %d columns; wrote %s\n", p.Algorithm(), len(tbl.Rows), len(p.Columns()), *out)
	sel := p.Selection()
	for _, s := range sel {
		fmt.Fprintf(stdout, "  cross-validated ROC AUC %-8s %.4f\n", s.Algorithm, s.AUC)
	}
	if len(sel) == 0 {
		// A named algorithm is measured too: how good a model is belongs
		// beside the model.
		cv, err := lead.CrossValidate(tbl, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "score train: warning: no cross-validated ROC AUC: %v\n", err)
			return nil
		}
		fmt.Fprintf(stdout, "  cross-validated ROC AUC %-8s %.4f\n", p.Algorithm(), cv.Mean)
	}
	return nil
}

// scoreTrainError reports a training failure. Bad input (a flag naming no
// column, an unknown model, a column training cannot use) is a usage error
// that names the flag or the column to fix; anything else fails the
// command.
func scoreTrainError(in string, err error) error {
	var ve *crm.ValidationError
	if !errors.Is(err, crm.ErrInvalidArgument) || !errors.As(err, &ve) {
		return fmt.Errorf("score train: %w", err)
	}
	where := "--in " + in
	switch {
	case ve.Field == "label":
		where = "--label"
	case ve.Field == "exclude" || strings.HasPrefix(ve.Field, "exclude["):
		where = "--exclude"
	case ve.Field == "algorithm":
		where = "--model"
	case strings.HasPrefix(ve.Field, "columns."):
		where = fmt.Sprintf("%s: column %q", in, strings.TrimPrefix(ve.Field, "columns."))
	}
	return usageError{fmt.Sprintf("score train: %s: %v", where, err)}
}

func scoreApply(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("score apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := fs.String("model", "", "model JSON file from score train")
	rulesPath := fs.String("rules", "", "rule-based lead model JSON file, instead of --model")
	in := fs.String("in", "", "CSV file of leads to score")
	id := fs.String("id", "", "ID column copied to the output")
	out := fs.String("out", "", "CSV file to write: id,score")
	skipBad := fs.Bool("skip-bad-rows", false, "skip rows that are not valid CSV or have the wrong number of cells, reporting each on stderr")
	enc := encodingFlag(fs)
	if done, err := parseFlags(fs, args, "score apply"); done {
		return err
	}
	if err := checkEncoding("score apply", *enc); err != nil {
		return err
	}
	if (*modelPath == "") == (*rulesPath == "") {
		return usageError{"score apply: give exactly one of --model and --rules\n" + scoreUsage}
	}
	if err := scoreRequire("apply", [][2]string{{"in", *in}, {"id", *id}, {"out", *out}}); err != nil {
		return err
	}
	if *rulesPath != "" {
		return scoreApplyRules(*rulesPath, *in, *id, *out, *enc, *skipBad, stdout, stderr)
	}
	data, err := os.ReadFile(*modelPath)
	if err != nil {
		return fmt.Errorf("score apply: %w", err)
	}
	p, err := lead.LoadPredictor(data)
	if err != nil {
		return fmt.Errorf("score apply: %s: %w", *modelPath, err)
	}
	tbl, _, err := scoreReadCSV(*in, *enc, *skipBad, stderr)
	if err != nil {
		return fmt.Errorf("score apply: %w", err)
	}
	j := scoreColumn(tbl, *id)
	if j < 0 {
		return fmt.Errorf("score apply: %s: no column %q", *in, *id)
	}
	// A model column the file lacks would score every row as if the
	// value were missing: the same score for all, silently.
	var missing []string
	for _, c := range p.Columns() {
		if scoreColumn(tbl, c) < 0 {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("score apply: %s lacks %d of the model's %d columns: %s", *in, len(missing), len(p.Columns()), listSome(missing, 10))
	}
	for _, u := range p.Unseen(tbl) {
		if u.Share > 0.5 {
			fmt.Fprintf(stderr, "score apply: warning: column %q: %.0f%% of its values never appeared in training; they score as unknown\n", u.Column, 100*u.Share)
		}
	}
	scorer := p.Bind(tbl.Columns)
	err = writeCSVFile(*out, func(w *csv.Writer) error {
		if err := w.Write([]string{"id", "score"}); err != nil {
			return err
		}
		for _, row := range tbl.Rows {
			if err := w.Write([]string{row[j], strconv.FormatFloat(scorer.Score(row), 'f', 6, 64)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("score apply: %w", err)
	}
	fmt.Fprintf(stdout, "scored %d rows with %s; wrote %s\n", len(tbl.Rows), p.Algorithm(), *out)
	return nil
}

func scoreColumn(t *lead.Table, name string) int {
	for i, c := range t.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// scoreReadCSV reads a CSV file into a table, with each row's line number.
func scoreReadCSV(path, enc string, skipBad bool, warn io.Writer) (*lead.Table, []int, error) {
	header, rows, lines, err := readAllCSV(path, enc, skipBad, warn)
	if err != nil {
		return nil, nil, err
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("%s: no data rows", path)
	}
	return &lead.Table{Columns: header, Rows: rows}, lines, nil
}

// listSome quotes at most n names, then says how many more there are, so
// a file of a million columns gives a short error.
func listSome(names []string, n int) string {
	var b strings.Builder
	for i, name := range names {
		if i == n {
			fmt.Fprintf(&b, " and %d more", len(names)-n)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(truncateName(name)))
	}
	return b.String()
}

// truncateName cuts a column name to 64 bytes at a character boundary.
func truncateName(s string) string {
	if len(s) <= 64 {
		return s
	}
	i := 64
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
