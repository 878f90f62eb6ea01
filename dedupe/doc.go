// Package dedupe finds records that describe the same customer: it
// normalises the ways people write names, companies, phones, e-mails,
// addresses and dates, compares records field by field with a
// Fellegi-Sunter model whose parameters it learns from the data without
// labels, groups duplicates in a whole table, and explains every decision.
//
// # Normalising
//
// [Fold] applies Unicode NFKC (full-width to half-width), lower case and
// white space; [NormaliseName] handles Chinese and Western names, titles
// such as 先生/女士/总/经理 and honorifics such as Mr/Dr; [PinyinKey] reads
// Chinese names as toneless pinyin with surname readings (单 shan, 曾 zeng)
// so homophones match; [NormaliseCompany] splits legal forms (有限公司,
// Ltd., GmbH ...), regions (北京, (上海)) and branches (分公司), a branch
// being a different customer; [NormalisePhone] returns E.164 with a
// configurable default region; [NormaliseEmail], [NormaliseAddress] and
// [NormaliseDate] complete the set. All are pure and fuzzed.
//
// # Comparing
//
// [JaroWinkler], [EditDistance], [DamerauDistance], [MongeElkan],
// [TokenJaccard], [NumericCloseness] and [DaysApart] never allocate. A
// field's [Kind] chooses how its values are normalised and compared, and
// the comparison gives an agreement [Level].
//
// # Matching
//
// A [Matcher] built by [New] from a [Config] (the fields and their kinds)
// weighs each field's level by log2(m/u): m is how often duplicates agree
// at that level, u how often unrelated records do. Exact agreement on a
// rare value weighs more than on a common one (term frequencies). The sum
// is the [Decision] score; [Config.MatchWeight] and [Config.PossibleWeight]
// split it into [Match], [PossibleMatch] and [NonMatch], and the decision
// lists every field's [Reason].
//
// # Clustering a table
//
// [Matcher.Cluster] streams records in, groups them by blocking keys so
// that candidate pairs grow linearly (large blocks are compared through a
// sliding window), learns u from random pairs and m by
// expectation-maximisation, scores candidates on all cores and links
// matches strongest first into clusters capped by
// [ClusterOptions.MaxClusterSize] so weak chains cannot snowball.
//
// # Concurrency
//
// Normalisers, comparators and [Matcher] are safe for concurrent use.
package dedupe
