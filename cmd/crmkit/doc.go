// Command crmkit runs crmkit's rules over CSV files — duplicate detection and
// lead scoring for data teams preparing a CRM import — and brings a
// PostgreSQL schema up to date with crmkit's migrations.
//
//	crmkit migrate --dsn postgres://user:pass@host/db --schema crm --status
//	crmkit migrate --dsn postgres://user:pass@host/db --schema crm
//	crmkit version
//	crmkit dedupe --in customers.csv --id id --field company=name --field phone=tel --out clusters.csv
//	crmkit score train --in leads.csv --label Converted --id "Prospect ID" --out model.json
//	crmkit score apply --model model.json --in new.csv --id "Prospect ID" --out scores.csv
//
// Every command reads CSV with a header row; a UTF-8 byte-order mark, CRLF
// line ends, quoted fields and spaces around values are accepted, and
// errors name the file and line.
package main
