// Command crmkit runs crmkit's rules over CSV files — duplicate detection and
// lead scoring for data teams preparing a CRM import — brings a PostgreSQL
// schema up to date with crmkit's migrations, imports customers, prints
// reports, and computes RFM scores and exports segments.
//
//	crmkit migrate --dsn postgres://user:pass@host/db --schema crm --status
//	crmkit migrate --dsn postgres://user:pass@host/db --schema crm
//	crmkit version
//	crmkit dedupe --in customers.csv --id id --field company=name --field phone=tel --out clusters.csv
//	crmkit score train --in leads.csv --label Converted --id "Prospect ID" --out model.json
//	crmkit score apply --model model.json --in new.csv --id "Prospect ID" --out scores.csv
//	crmkit score apply --rules rules.json --in new.csv --id "Lead ID" --out scores.csv
//	crmkit dedupe --in customers.csv --id id --field company=name --out clusters.jsonl --format jsonl --pairs pairs.jsonl
//	crmkit segment rfm --dsn postgres://user:pass@host/db --schema crm --tenant acme --currency CNY
//	crmkit segment export --dsn postgres://user:pass@host/db --schema crm --tenant acme --rfm champions --out champions.csv
//
// Every command reads CSV with a header row; a UTF-8 byte-order mark, CRLF
// line ends, quoted fields and spaces around values are accepted, and
// errors name the file and line.
package main
