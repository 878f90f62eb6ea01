// Package lead scores, qualifies and converts leads.
//
// # Rule-based scoring
//
// A [Model] is a scoring model loaded from JSON ([ParseModel]) or built in Go
// ([Compile]) and validated on load: every problem is reported with the path
// of the bad field. A rule's condition is written in crmkit's one condition
// language (package cond) over the lead ([cond.LeadSchema]):
//
//	{"id": "target-industry", "points": 25,
//	 "when": {"all": [{"field": "industry", "in": ["manufacturing", "retail"]},
//	                  {"field": "company_size", "range": {"gte": 200}}]}}
//
// Fit rules test lead fields (equals, in, range, prefix, contains, exists;
// all/any/not groups; custom fields as "fields.<name>"); engagement rules
// also test [Engagement] events ({"event": {"kind": "web_visit",
// "min_count": 3, "within_days": 30}}) and lose value with age (a
// half-life or a step-down). The retired {"field", "op", "value"} form is
// refused with what to write instead. Points are capped per group, per
// section and in total, graded A1..D4 (fit letter, engagement digit) and
// mapped to a suggested lifecycle stage. [Model.Score] is pure,
// allocation-free and deterministic for a given time; [Model.Explain] says
// which rules matched, what each gave and how its condition came out, in
// the explanation format of conditions. [Models] keeps several models and
// versions side by side.
//
// # Predictive scoring
//
// [Train] learns from past won and lost leads in a [Table] (CSV-like rows of
// strings) and returns a [Predictor] that gives new leads a probability of
// converting. Columns are numeric or categorical (declared or inferred);
// placeholders such as "Select" count as unanswered ([DefaultMissing]); ID
// and leaky columns are excluded on request. Algorithms: naive Bayes with
// Laplace smoothing, L2-regularised logistic regression over one-hot
// categories, binned and scaled numbers and the value combinations of pairs
// of the most informative columns, gradient-boosted trees, and their
// [Ensemble] (the default); [Auto] picks by cross-validation.
// Training is deterministic (seeded); a predictor round-trips through JSON
// with identical scores ([LoadPredictor]); [RowScorer.Explain] lists the
// features that moved a lead's score most. [CrossValidate] and [ROCAUC]
// measure quality.
//
// # Capture, lifecycle and conversion
//
// [Service.Capture] stores a new open lead after the [CaptureChecker] let
// it in.
//
// A [Lifecycle] is a state machine over [crm.LeadStatus] loaded from data
// ([DefaultLifecycleSpec], [ParseLifecycle]): allowed transitions and their
// guards (a phone or email before sales-qualified, a reason to disqualify).
// [Service.Transition] applies one move in a unit of work and writes its
// event ("lead.contacted", "lead.qualified", "lead.disqualified",
// "lead.reopened") whose payload is the [HistoryEntry] (from, to, actor,
// time, reason); a refused move is a [*TransitionError] matching
// [crm.ErrFailedPrecondition]. [Service.Convert] turns a lead into a
// customer, contact and optional opportunity; the lead keeps links to what
// it became, and converting twice or converting a disqualified lead is
// refused.
//
// # Seams
//
// Other domains plug into the lead operations through small interfaces on
// [Config], which crmkit's composition root wires (dedupe, workflow routing,
// permissions) and a host may replace:
//
//   - an [Authorizer] is asked whether a request's actor may transition,
//     convert or score the lead ([Access] names the [Action]); a refusal
//     matching [crm.ErrPermissionDenied] is returned as it is, and an
//     unknown actor is a [*crm.ValidationError] on "actor";
//   - a [DuplicateChecker] finds an existing customer the lead duplicates,
//     and the conversion attaches, refuses ([*DuplicateError]) or creates
//     per [DuplicatePolicy]; when it is also a [CustomerIndexer] it indexes
//     the customer a conversion creates;
//   - an [OwnerRouter] picks the owner of the converted records, and the new
//     customer and opportunity take the routed owner's department;
//   - a [CaptureChecker] decides whether a captured lead duplicates an
//     open lead or a customer ([Service.Capture]): a block is a
//     [*CaptureBlockedError] and stores nothing, a warning stores the lead
//     and reports the duplicates; the owners of duplicate leads are shown
//     only to those who may see them ([Service.OwnerVisibleTx]); when it is
//     also a [LeadIndexer], transitions and conversions keep the lead's
//     match keys in step.
//
// Every seam takes the operation's [crm.Tx] and runs inside its unit of
// work: a conversion reads the lead, checks the lifecycle, authorizes,
// checks for duplicates, routes, creates and indexes the customer, and
// writes the contact, opportunity, history and events all in one. What a
// router remembers (round-robin cursors) is kept only if the conversion
// is, and an indexer's unique key makes the second of two concurrent
// conversions of one company fail with [crm.ErrAlreadyExists] instead of
// creating a second customer.
//
// # Joining a unit of work
//
// Every mutating operation has a Tx form that runs inside a unit of work
// the caller holds — [Service.CaptureTx], [Service.TransitionTx], [Service.ConvertTx],
// [Service.SaveModelTx], [Service.SavePredictorTx], [Service.ScoreLeadTx] —
// from [crm.Store.InTx] or a host's own database transaction (pgstore's
// Store.WithTx), so a lead operation commits or rolls back together with
// the caller's other work. The plain form is InTx plus the Tx form. A Tx
// form on a [crm.Tx] without the lead ports returns an error matching
// [crm.ErrUnsupported].
//
// # Storage
//
// [Service] stores through the ports of [Tx], which an adapter's unit of
// work implements next to [crm.Tx] (memstore and pgstore do; the
// conformance suite's RunLead checks any adapter): [HistoryStore], the
// append-only history of transitions, written in the same unit of work as
// the lead and its event; [ScoreStore], each lead's latest
// [ScoreSnapshot] per model, replaced by compare-and-swap on its version;
// and [ModelStore] for scoring models and predictors, whose versions are
// immutable once stored (a different document under a stored version is
// [crm.ErrAlreadyExists]). [Service.ScoreLead] reads the lead and the stored
// model and saves the snapshot in one unit of work, with an
// [EventLeadRegraded] event when the grade or suggested stage changes;
// [Service.SaveModel],
// [Service.LoadModel], [Service.SavePredictor] and [Service.LoadPredictor]
// publish and read versions. On an adapter without these ports the
// operations return an error matching [crm.ErrUnsupported].
//
// # Rising leads
//
// "Which leads just turned hot?" A grade rises ([Model.Rises]) when it
// gets better on one axis (fit letter or engagement digit) and no worse
// on the other; a lead's first grade rises unless it is the lowest, D4.
// [Service.ScoreLead] stamps the snapshot's RoseAt with the scoring time
// on a rise, keeps it while the grade stays and clears it on any other
// change. [Service.Rising] pages through the open leads ([Open]) whose
// grade rose since a time, newest rise first, the actor's own or a
// team's, each entry with its lead and snapshot. It needs the optional
// [RisingQueue] port (memstore and pgstore have it; the conformance
// suite's RunRisingLeads checks it), and reports [crm.ErrUnsupported]
// without it.
//
// # Concurrency
//
// [Model], [Models], [Predictor], [RowScorer], [Lifecycle] and [Service] are
// safe for concurrent use. No function reads the wall clock: scoring takes
// the time as an argument and [Service] reads its injected [crm.Clock].
//
// # Events
//
// A transition writes [EventLeadContacted], [EventLeadQualified],
// [EventLeadDisqualified] or [EventLeadReopened] with its [HistoryEntry];
// a conversion writes [EventLeadConverted] with a [ConversionPayload];
// scoring writes [EventLeadRegraded] with a [RegradedPayload]. Decode them
// with [crm.DecodePayload]. These domain events say why a record changed;
// what changed (the captured lead, the converted customer, contact and
// opportunity, a lead's new status) is in the change events
// ("lead.created", "customer.created" ..., [crm.ChangedPayload]) that a
// recording unit of work appends: package history records the units of
// work it wraps, and crmkit's CRM wraps every one of its own, with the
// operation its services name ([crm.DefaultActor]: "capture", "convert",
// ...).
package lead
