package dev.tollgate.journal.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent.Adjusted;
import dev.tollgate.journal.JournalEvent.CreditAdded;
import dev.tollgate.journal.JournalEvent.Settled;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Checks shared by the statement tests: the balance movement straight from the journal, and a reading of the CSV and JSON forms. */
final class StatementChecks {
    private static final ObjectMapper JSON = new ObjectMapper();

    private StatementChecks() {
    }

    static long monthStartMs(YearMonth month) {
        return month.atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
    }

    /**
     * {@code credited - debited} moved by the journal's records stamped in [fromMs, toMs), computed
     * the plain way: every record read, credits and adjustments counted once per idempotency key
     * (as the ledger applies them), settlements' debits subtracted.
     */
    static long balanceMovement(Journal journal, String accountId, long fromMs, long toMs) {
        long[] movement = {0};
        Set<String> applied = new HashSet<>();
        journal.readAfter(-1, (index, event) -> {
            boolean inRange = event.timestampMs() >= fromMs && event.timestampMs() < toMs;
            switch (event) {
                case CreditAdded e when e.accountId().equals(accountId) -> {
                    if (applied.add(e.idempotencyKey()) && inRange) {
                        movement[0] += e.amountMicros();
                    }
                }
                case Adjusted e when e.accountId().equals(accountId) -> {
                    if (applied.add(e.idempotencyKey()) && inRange) {
                        movement[0] += e.amountMicros();
                    }
                }
                case Settled e when e.request().accountId().equals(accountId) && inRange -> movement[0] -= e.debitedMicros();
                default -> {
                }
            }
        });
        return movement[0];
    }

    /** The CSV form read back: one string array per line, quotes and the formula guard undone. */
    static List<String[]> parseCsv(String csv) {
        List<String[]> rows = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        boolean wasQuoted = false;
        for (int i = 0; i < csv.length(); i++) {
            char c = csv.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < csv.length() && csv.charAt(i + 1) == '"') {
                    field.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    field.append(c);
                }
            } else if (c == '"') {
                quoted = true;
                wasQuoted = true;
            } else if (c == ',' || c == '\n') {
                fields.add(unguard(field.toString(), wasQuoted));
                field.setLength(0);
                wasQuoted = false;
                if (c == '\n') {
                    rows.add(fields.toArray(String[]::new));
                    fields.clear();
                }
            } else {
                field.append(c);
            }
        }
        assertThat(field).as("the CSV ends with a newline").isEmpty();
        return rows;
    }

    private static String unguard(String value, boolean wasQuoted) {
        return wasQuoted && value.length() > 1 && value.charAt(0) == '\'' && "=+-@".indexOf(value.charAt(1)) >= 0 ? value.substring(1) : value;
    }

    /** Every figure and item of the JSON form equals the CSV form's, and both equal the statement's. */
    static void assertJsonAndCsvAgree(Statement statement) throws Exception {
        JsonNode json = JSON.readTree(statement.toJson());
        List<String[]> csv = parseCsv(statement.toCsv());
        assertThat(String.join(",", csv.get(0))).isEqualTo(Statement.CSV_HEADER);
        int amount = 13;
        int i = 1;
        assertThat(csv.get(i)[0]).isEqualTo("opening");
        assertThat(Long.parseLong(csv.get(i)[amount])).isEqualTo(json.get("opening_balance_micros").asLong()).isEqualTo(statement.openingBalanceMicros());
        long movement = 0;
        for (JsonNode credit : json.get("credits")) {
            String[] row = csv.get(++i);
            assertThat(row[0]).isEqualTo("credit");
            assertThat(row[1]).isEqualTo(credit.get("time").asText());
            assertThat(row[3]).isEqualTo(credit.get("reference").asText());
            assertThat(Long.parseLong(row[amount])).isEqualTo(credit.get("amount_micros").asLong());
            movement += Long.parseLong(row[amount]);
        }
        for (JsonNode adjustment : json.get("adjustments")) {
            String[] row = csv.get(++i);
            assertThat(row[0]).isEqualTo("adjustment");
            assertThat(row[1]).isEqualTo(adjustment.get("time").asText());
            assertThat(row[2]).isEqualTo(adjustment.get("reason").asText());
            assertThat(row[3]).isEqualTo(adjustment.get("reference").asText());
            assertThat(Long.parseLong(row[amount])).isEqualTo(adjustment.get("amount_micros").asLong());
            movement += Long.parseLong(row[amount]);
        }
        for (JsonNode debit : json.get("debits")) {
            String[] row = csv.get(++i);
            assertThat(row[0]).isEqualTo("debit");
            assertThat(row[4]).isEqualTo(debit.get("provider").asText());
            assertThat(row[5]).isEqualTo(debit.get("model").asText());
            assertThat(row[amount + 1]).isEqualTo(debit.get("row_version").asText());
            assertThat(row[amount + 2]).isEqualTo(debit.get("lane").asText());
            assertThat(Integer.parseInt(row[amount + 3])).isEqualTo(debit.get("price_multiplier_bps").asInt());
            assertThat(row[amount + 4]).isEqualTo(debit.get("billed_by").asText());
            assertThat(Long.parseLong(row[amount + 5])).isEqualTo(debit.get("direct_cost_micros").asLong());
            String[] fields = {"requests", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
                    "written_off_micros"};
            for (int f = 0; f < fields.length; f++) {
                assertThat(Long.parseLong(row[6 + f])).as(fields[f]).isEqualTo(debit.get(fields[f]).asLong());
            }
            assertThat(Long.parseLong(row[amount])).isEqualTo(-debit.get("cost_micros").asLong());
            movement += Long.parseLong(row[amount]);
        }
        String[] closing = csv.get(++i);
        assertThat(closing[0]).isEqualTo("closing");
        assertThat(i).isEqualTo(csv.size() - 1);
        long closingMicros = Long.parseLong(closing[amount]);
        assertThat(closingMicros).isEqualTo(json.get("closing_balance_micros").asLong()).isEqualTo(statement.closingBalanceMicros());
        assertThat(closingMicros - statement.openingBalanceMicros()).isEqualTo(movement);
        assertThat(json.get("credits")).hasSize(statement.credits().size());
        assertThat(json.get("adjustments")).hasSize(statement.adjustments().size());
        assertThat(json.get("debits")).hasSize(statement.debits().size());
        assertThat(json.get("total_credits_micros").asLong()).isEqualTo(statement.totalCreditsMicros());
        assertThat(json.get("total_adjustments_micros").asLong()).isEqualTo(statement.totalAdjustmentsMicros());
        assertThat(json.get("total_debits_micros").asLong()).isEqualTo(statement.totalDebitsMicros());
    }
}
