// Command dedupe shows duplicate detection through storage on the in-memory
// store.
//
// A sales rep enters 华腾科技(北京)有限公司 with the phone +86 138-0013-8000.
// 北京华腾科技有限公司 (13800138000), owned by 李伟, is already stored, so the
// entry is blocked and the rep is told who owns the customer. Then two
// duplicates that slipped in earlier (one from an import) are merged into
// a golden record: the contact and the follow-up of the loser move to the
// survivor, and the loser is kept, marked merged. Finally the merge is
// undone and everything is back as it was.
//
// A fixed clock and sequential IDs make the output the same on every run.
//
//	go run ./examples/dedupe
package main
