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
// A [Matcher] built by [NewMatcher] from a [Config] (the fields and their kinds)
// weighs each field's level by log2(m/u): m is how often duplicates agree
// at that level, u how often unrelated records do. Exact agreement on a
// rare value weighs more than on a common one (term frequencies). Fields
// that describe one thing (suburb, postcode and state; see [Field.Group])
// count once: their strongest agreement and strongest disagreement, not
// the sum. A given name and a family name are weighed together, so names
// written the other way round, or a family name typed into the given-name
// column, still agree; given names compare through a table of English
// nicknames (Bill and William). An exact agreement on a shared contact
// point (a number or address that records of other names give too) counts
// as partial when the names disagree. The sum is the [Decision] score;
// [Config.MatchWeight] and [Config.PossibleWeight] split it into [Match],
// [PossibleMatch] and [NonMatch], and the decision lists every field's
// [Reason], saying how it was counted.
//
// # Clustering a table
//
// [Matcher.Cluster] streams records in, groups them by blocking keys so
// that candidate pairs grow linearly (large blocks are compared through a
// sliding window) and learns the model without labels: u from random
// pairs; m by expectation-maximisation one blocking rule at a time,
// leaving out the fields the rule makes agree; and the share of matching
// pairs in the table. From that share follows the score a link needs for
// [ClusterOptions.MatchProbability], so a threshold means the same in a
// table of ten thousand rows and of a million, where any one pair is far
// less likely to match. It scores candidates on all cores and links
// matches strongest first; two clusters join only when their records
// cohere ([ClusterOptions.Coherence]) and never past
// [ClusterOptions.MaxClusterSize], so a chain of weak links cannot join
// records that disagree. [Clustering.Explain] explains any pair as the run
// weighed it.
//
// # Storage
//
// [Index] checks against records held in memory. [Service] checks against
// the customers of a [crm.Store] whose units of work implement [Tx]: the
// store keeps each customer's normalised keys ([Service.Keys]: company
// name without legal form and region, pinyin name, E.164 phone, e-mail,
// address prefix) through the [KeyStore] port, so PostgreSQL finds the
// candidates of a check through an index, reading at most
// [ServiceConfig.PerKey] records per key however common the key. The
// candidates are loaded, scored with the [Matcher] and returned like
// [Index.Check]'s, with owner and pool.
//
// [Service.Enter] checks, lets a [Policy] decide and creates the customer
// with its keys in one unit of work; a blocked entry writes nothing and
// returns a [*BlockedError] naming the existing customer. Each customer also
// has a strong key (company name with region, or a person's name with
// phone) that is unique per tenant, so of concurrent entries of one
// customer only one is stored; the others get an error matching
// [crm.ErrAlreadyExists] ([*KeyTakenError] or [*BlockedError]).
//
// [Service.Merge] applies [Matcher.Merge] to stored customers in one unit
// of work: the survivor gets the golden values, the losers' contacts,
// opportunities, tickets and activities move to it, the losers are kept
// and marked with [MergedIntoField], keys are updated and a
// customer.merged event carries the [CustomerMerge]; [Service.Undo] puts
// everything back from it. The ...Tx variants run inside a unit of work
// the host already holds.
//
// # Leads and contacts
//
// Leads and contacts are checked through the same key functions, matcher
// and [Policy] as customers, under key kinds of their own. A lead being
// captured ([Service.CaptureLeadTx]) is checked against the open leads
// ([LeadRecord]: company, person, phone, e-mail) and the customers (as the
// customer it would become, [LeadCustomer]); a lead or customer of the
// same company (or person and phone) gets the policy's strongest action
// whatever its score, and of two concurrent captures of one lead the later
// sees the earlier. [Service.IndexLeadTx] drops the keys of converted and
// disqualified leads. A contact is a duplicate only within its customer
// ([Service.EnterContactTx], [Service.ContactKeys] scoped by customer, a contact of
// the same name and phone blocked whatever the policy), and a merge folds
// the contacts of the merged customers that are one person into one
// ([ContactFold]), which [Service.Undo] puts back.
//
// # Concurrency
//
// Normalisers, comparators, [Matcher], [Index] and [Service] are safe for
// concurrent use.
//
// # Events
//
// [EventCustomerMerged] and [EventCustomerMergeUndone] carry the
// [CustomerMerge] as payload (decode it with [crm.DecodePayload]). The
// customers and contacts a service creates or changes get their change
// events ("customer.created" ..., [crm.ChangedPayload]) from a recording
// unit of work (package history; crmkit's CRM records every one).
package dedupe
