// Command leadscoring scores leads two ways on the in-memory store.
//
// First a rule model: fit rules on who the lead is, engagement rules on what
// the lead did with half-life decay, grades and stages. The model is stored
// as version 1, a lead is scored with it (the snapshot is stored too), the
// explanation says why, the suggested stage moves the lead through its
// lifecycle, and a month later the same events count for less.
//
// Then a predictive model trained on the shared leads file
// (../shared/data/leads/leads_train.csv next to the repository): its
// cross-validated ROC AUC, and the features that moved one lead's score
// most. The part is skipped, with a note, when the file is absent.
//
//	go run ./examples/leadscoring
package main
