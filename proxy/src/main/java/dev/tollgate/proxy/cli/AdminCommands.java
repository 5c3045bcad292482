package dev.tollgate.proxy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.proxy.Money;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * The operator's commands over the admin API: aligned tables for people, {@code --json} for scripts
 * (the API's own answer), a message and exit code 1 on every error. Amounts are given in currency units
 * ({@code 5}, {@code 12.50}, {@code -0.25}) and converted exactly to micro-units, or refused.
 */
final class AdminCommands {
    /** Where the commands read TOLLGATE_ADMIN_URL and TOLLGATE_ADMIN_TOKEN; tests replace it. */
    static Function<String, String> environment = System::getenv;
    private static final ObjectMapper JSON = new ObjectMapper();

    private AdminCommands() {
    }

    /** The options every admin command takes. */
    static final class Connection {
        @Option(names = "--url", description = "The admin API (default: $TOLLGATE_ADMIN_URL, else http://127.0.0.1:8081).")
        String url;

        @Option(names = "--json", description = "Print the API's JSON answer instead of a table.")
        boolean json;

        AdminClient client() {
            String base = url != null ? url : environment.apply(AdminClient.URL_ENV);
            return new AdminClient(base == null || base.isBlank() ? AdminClient.DEFAULT_URL : base, environment.apply("TOLLGATE_ADMIN_TOKEN"));
        }
    }

    /** Runs one command: its answer on standard output, or its error on standard error and exit code 1. */
    abstract static class AdminCommand implements Callable<Integer> {
        @Mixin
        Connection connection;

        @Spec
        CommandSpec spec;

        abstract void run(AdminClient client, PrintWriter out);

        @Override
        public final Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try {
                run(connection.client(), out);
                out.flush();
                return 0;
            } catch (AdminClient.Failure | IllegalArgumentException e) {
                spec.commandLine().getErr().println("tollgate: " + e.getMessage());
                spec.commandLine().getErr().flush();
                return 1;
            }
        }

        /** Prints the answer as JSON when asked, else as the table {@code table} makes. */
        void print(PrintWriter out, JsonNode answer, Function<JsonNode, Table> table) {
            if (connection.json) {
                out.println(answer.toPrettyString());
            } else {
                table.apply(answer).print(out);
            }
        }
    }

    /** Columns padded to their widest cell; numbers right-aligned. */
    static final class Table {
        private final List<String> headers;
        private final List<List<String>> rows = new ArrayList<>();

        Table(String... headers) {
            this.headers = List.of(headers);
        }

        Table row(Object... cells) {
            List<String> row = new ArrayList<>();
            for (Object cell : cells) {
                row.add(cell == null ? "" : String.valueOf(cell));
            }
            rows.add(row);
            return this;
        }

        void print(PrintWriter out) {
            int[] widths = new int[headers.size()];
            boolean[] numeric = new boolean[headers.size()];
            java.util.Arrays.fill(numeric, true);
            for (int i = 0; i < widths.length; i++) {
                widths[i] = headers.get(i).length();
                for (List<String> row : rows) {
                    widths[i] = Math.max(widths[i], row.get(i).length());
                    numeric[i] &= row.get(i).matches("-?[$]?[0-9][0-9.,]*");
                }
            }
            line(out, headers, widths, new boolean[widths.length]);
            for (List<String> row : rows) {
                line(out, row, widths, numeric);
            }
            if (rows.isEmpty()) {
                out.println("(none)");
            }
        }

        private static void line(PrintWriter out, List<String> cells, int[] widths, boolean[] right) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < cells.size(); i++) {
                String cell = cells.get(i);
                String pad = " ".repeat(widths[i] - cell.length());
                line.append(i == 0 ? "" : "  ").append(right[i] ? pad + cell : cell + (i == cells.size() - 1 ? "" : pad));
            }
            out.println(line);
        }
    }

    /** An amount in currency units as exact micro-units: 12.5 is 12500000; 0.0000001 is refused. */
    static long micros(String amount) {
        try {
            return new BigDecimal(amount.replace("$", "").replace("_", "")).movePointRight(6).longValueExact();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an amount: " + amount + " (currency units, like 5 or 12.50)");
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(amount + " is not a whole number of micro-units (at most 6 decimals)");
        }
    }

    static String money(JsonNode node, String field, String currency) {
        return Money.format(node.path(field).asLong(), currency);
    }

    static Table accountsTable(Iterable<JsonNode> accounts) {
        Table table = new Table("ACCOUNT", "AVAILABLE", "RESERVED", "CREDITED", "DEBITED", "WRITTEN OFF", "KEYS", "LOW-BALANCE ALERT");
        for (JsonNode account : accounts) {
            String currency = account.path("currency").asText("USD");
            table.row(account.path("id").asText(), money(account, "available_micros", currency), money(account, "reserved_micros", currency),
                    money(account, "credited_micros", currency), money(account, "debited_micros", currency),
                    money(account, "written_off_micros", currency), account.path("active_keys").asLong(),
                    account.path("low_balance_threshold_micros").isNumber() ? "below " + money(account, "low_balance_threshold_micros", currency) : "-");
        }
        return table;
    }

    static Table keysTable(Iterable<JsonNode> keys) {
        Table table = new Table("KEY", "ACCOUNT", "LABEL", "PREFIX", "STATUS", "SCOPE", "SPENT / CAP (DAY, MONTH, TOTAL)");
        for (JsonNode key : keys) {
            table.row(key.path("id").asText(), key.path("account").asText(), key.path("label").asText(), key.path("prefix").asText(),
                    key.path("status").asText(), scope(key), caps(key));
        }
        return table;
    }

    /** "env=staging models=gpt-4o*,o3 expires=2027-01-01T00:00:00Z": what restricts a key, "any" when nothing does. */
    private static String scope(JsonNode key) {
        List<String> parts = new ArrayList<>();
        for (String field : List.of("env", "lane", "models", "expires_at", "networks")) {
            JsonNode value = key.path(field);
            if (value.isTextual()) {
                parts.add(field.replace("_at", "") + "=" + value.asText());
            } else if (value.isArray()) {
                List<String> items = new ArrayList<>();
                value.forEach(item -> items.add(item.asText()));
                parts.add(field + "=" + String.join(",", items));
            }
        }
        return parts.isEmpty() ? "any" : String.join(" ", parts);
    }

    /** "$0.000064 / $2.000000, -, -": each window's spend over its cap, "-" where there is none. */
    private static String caps(JsonNode key) {
        List<String> windows = new ArrayList<>();
        for (String window : List.of("day_micros", "month_micros", "total_micros")) {
            JsonNode cap = key.path("limits").path(window);
            windows.add(cap.isNumber() ? Money.format(key.path("spend").path(window).asLong(), "USD") + " / " + Money.format(cap.asLong(), "USD") : "-");
        }
        String caps = windows.stream().allMatch("-"::equals) ? "none" : String.join(", ", windows);
        JsonNode alert = key.path("limits").path("alert_percent");
        return alert.isNumber() ? caps + " (alert at " + alert.asInt() + "%)" : caps;
    }

    /** What an audit entry changed, in a few words: the amount, the key and its new limits, scope or secret. */
    static String auditDetail(JsonNode row) {
        if (row.has("amount_micros")) {
            return Money.format(row.path("amount_micros").asLong(), "USD") + (row.has("reason") ? " (" + row.path("reason").asText() + ")" : "");
        }
        StringBuilder detail = new StringBuilder(row.path("key").asText(""));
        if (row.has("limits")) {
            List<String> set = new ArrayList<>();
            row.path("limits").fields().forEachRemaining(limit -> set.add(limit.getKey() + "=" + (limit.getValue().isNull() ? "none" : limit.getValue().asText())));
            String action = row.path("action").asText();
            detail.append(' ').append(action.endsWith("rate_limits_set") ? "rate limits " : action.endsWith("alert_set") ? "" : "caps ")
                    .append(String.join(" ", set));
        }
        if (row.has("low_balance_threshold_micros")) {
            JsonNode threshold = row.path("low_balance_threshold_micros");
            detail.append(" low-balance alert ").append(threshold.isNull() ? "none" : "below " + Money.format(threshold.asLong(), "USD"));
        }
        if (row.path("action").asText().equals("key.changed")) {
            String scope = scope(row);
            detail.append(" label=").append(row.path("label").asText()).append(' ').append(scope.equals("any") ? "scope any" : scope);
        }
        if (row.has("previous_valid_until")) {
            detail.append(" new secret ").append(row.path("prefix").asText()).append(", the old one works until ")
                    .append(row.path("previous_valid_until").asText());
        }
        return detail.toString().strip();
    }

    /** The scope options of keys create and keys update: each given one is sent, "none" / "all" / "any" / "never" clear it. */
    static final class ScopeOptions {
        @Option(names = "--env", description = "An environment tag: production, staging, batch or your own (none clears it).")
        String env;

        @Option(names = "--lane", description = "The lane the key's requests run in (none clears it).")
        String lane;

        @Option(names = "--models", description = "Allowed models, comma-separated names and prefix* patterns (all: no restriction).")
        String models;

        @Option(names = "--expires", description = "When the key stops working: an instant like 2027-01-01T00:00:00Z (never: no expiry).")
        String expires;

        @Option(names = "--networks", description = "Allowed client networks, comma-separated CIDR blocks (any: no restriction).")
        String networks;

        void addTo(ObjectNode body) {
            text(body, "env", env, "none");
            text(body, "lane", lane, "none");
            list(body, "models", models, "all");
            text(body, "expires_at", expires, "never");
            list(body, "networks", networks, "any");
        }

        private static void text(ObjectNode body, String field, String value, String clear) {
            if (value == null) {
                return;
            }
            if (value.equals(clear)) {
                body.putNull(field);
            } else {
                body.put(field, value);
            }
        }

        private static void list(ObjectNode body, String field, String value, String clear) {
            if (value == null) {
                return;
            }
            if (value.equals(clear)) {
                body.putNull(field);
                return;
            }
            var array = body.putArray(field);
            for (String item : value.split(",")) {
                if (!item.isBlank()) {
                    array.add(item.strip());
                }
            }
        }
    }

    /** The caps options of keys create and keys limits: currency amounts, or "none". */
    static final class CapOptions {
        @Option(names = "--day-cap", description = "Hard cap on the key's spend per UTC day (an amount, or none).")
        String day;

        @Option(names = "--month-cap", description = "Hard cap per UTC month (an amount, or none).")
        String month;

        @Option(names = "--total-cap", description = "Hard cap in total (an amount, or none).")
        String total;

        @Option(names = "--alert-percent", description = "Soft alert when the key's spend reaches this percentage (1 to 100) of a cap, once per window"
                + " (or none).")
        String alertPercent;

        /** The {@code limits} object of the request, or null when no cap option was given. */
        ObjectNode limits() {
            if (day == null && month == null && total == null && alertPercent == null) {
                return null;
            }
            ObjectNode limits = JSON.createObjectNode();
            put(limits, "day_micros", day);
            put(limits, "month_micros", month);
            put(limits, "total_micros", total);
            if (alertPercent != null) {
                if (alertPercent.equals("none")) {
                    limits.putNull("alert_percent");
                } else {
                    try {
                        limits.put("alert_percent", Integer.parseInt(alertPercent));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--alert-percent: a whole number from 1 to 100, or none; found " + alertPercent);
                    }
                }
            }
            return limits;
        }

        private static void put(ObjectNode limits, String field, String amount) {
            if (amount != null) {
                putAmountOrNone(limits, field, amount);
            }
        }
    }

    @Command(name = "accounts", description = "List accounts with their balances; show, open or change one.",
            subcommands = {AccountsShow.class, AccountsOpen.class, AccountsUpdate.class})
    static final class Accounts extends AdminCommand {
        @Override
        void run(AdminClient client, PrintWriter out) {
            print(out, client.get("/admin/v1/accounts", null).json(), answer -> accountsTable(answer.path("data")));
        }
    }

    @Command(name = "show", description = "One account's balance.")
    static final class AccountsShow extends AdminCommand {
        @Parameters(paramLabel = "ACCOUNT")
        String account;

        @Override
        void run(AdminClient client, PrintWriter out) {
            print(out, client.get("/admin/v1/accounts/" + account, null).json(), answer -> accountsTable(List.of(answer)));
        }
    }

    @Command(name = "open", description = "Open an account (with nothing in it; top it up next).")
    static final class AccountsOpen extends AdminCommand {
        @Parameters(paramLabel = "ACCOUNT")
        String account;

        @Option(names = "--low-balance-threshold", description = "Alert once when a debit takes the balance below this amount.")
        String lowBalanceThreshold;

        @Override
        void run(AdminClient client, PrintWriter out) {
            ObjectNode body = JSON.createObjectNode().put("id", account);
            if (lowBalanceThreshold != null) {
                putAmountOrNone(body, "low_balance_threshold_micros", lowBalanceThreshold);
            }
            print(out, client.post("/admin/v1/accounts", body, null).json(), answer -> accountsTable(List.of(answer)));
        }
    }

    @Command(name = "update", description = "Change an account's low-balance threshold (the options given; the others stay).")
    static final class AccountsUpdate extends AdminCommand {
        @Parameters(paramLabel = "ACCOUNT")
        String account;

        @Option(names = "--low-balance-threshold", required = true,
                description = "Alert once when a debit takes the balance below this amount (or none); money added re-arms it.")
        String lowBalanceThreshold;

        @Override
        void run(AdminClient client, PrintWriter out) {
            ObjectNode body = JSON.createObjectNode();
            putAmountOrNone(body, "low_balance_threshold_micros", lowBalanceThreshold);
            print(out, client.patch("/admin/v1/accounts/" + account, body).json(), answer -> accountsTable(List.of(answer)));
        }
    }

    /** An amount in currency units as micros, or null for "none". */
    private static void putAmountOrNone(ObjectNode body, String field, String amount) {
        if (amount.equals("none")) {
            body.putNull(field);
        } else {
            body.put(field, micros(amount));
        }
    }

    /** Credits and adjustments: an idempotency key of the operator's, or a new one printed so a retry can reuse it. */
    abstract static class MoneyCommand extends AdminCommand {
        @Parameters(index = "0", paramLabel = "ACCOUNT")
        String account;

        @Parameters(index = "1", paramLabel = "AMOUNT", description = "In currency units: 5, 12.50 (exact to the micro-unit).")
        String amount;

        @Option(names = "--note", description = "Kept in the journal and the audit trail.")
        String note;

        @Option(names = "--idempotency-key", description = "Retry with the same key to apply the change once (default: a new one, printed).")
        String idempotencyKey;

        void send(AdminClient client, PrintWriter out, String what, ObjectNode body) {
            String key = idempotencyKey != null ? idempotencyKey : what + "-" + UUID.randomUUID();
            AdminClient.Answer answer;
            try {
                answer = client.post("/admin/v1/accounts/" + account + "/" + what + "s", body, key);
            } catch (AdminClient.Failure e) {
                // The change may have been applied before the answer was lost: the same key retries it safely.
                throw new AdminClient.Failure(e.getMessage() + "; to retry without applying it twice: --idempotency-key " + key);
            }
            JsonNode balance = client.get("/admin/v1/accounts/" + account, null).json();
            if (connection.json) {
                out.println(answer.json().toPrettyString());
                return;
            }
            String currency = balance.path("currency").asText("USD");
            boolean replayed = "true".equals(answer.headers().get("idempotent-replayed"));
            out.println((replayed ? "Already applied (idempotency key " + key + "): nothing changed. " : what.substring(0, 1).toUpperCase()
                    + what.substring(1) + " of " + Money.format(answer.json().path("amount_micros").asLong(), currency) + " applied to " + account
                    + " (idempotency key " + key + "). ") + "Available now: " + money(balance, "available_micros", currency) + ".");
        }
    }

    @Command(name = "topup", description = "Add prepaid balance to an account.")
    static final class Topup extends MoneyCommand {
        @Override
        void run(AdminClient client, PrintWriter out) {
            ObjectNode body = JSON.createObjectNode().put("amount_micros", micros(amount));
            if (note != null) {
                body.put("note", note);
            }
            send(client, out, "credit", body);
        }
    }

    @Command(name = "adjust", description = "Correct an account's balance by a signed amount, with a reason.")
    static final class Adjust extends MoneyCommand {
        @Option(names = "--reason", required = true, description = "Why (on the account's statement).")
        String reason;

        @Override
        void run(AdminClient client, PrintWriter out) {
            ObjectNode body = JSON.createObjectNode().put("amount_micros", micros(amount)).put("reason", reason);
            if (note != null) {
                body.put("note", note);
            }
            send(client, out, "adjustment", body);
        }
    }

    @Command(name = "keys", description = "List keys (of one account with --account); create, show, change, rotate or revoke one.",
            subcommands = {KeysCreate.class, KeysShow.class, KeysLimits.class, KeysUpdate.class, KeysRotate.class, KeysRevoke.class})
    static final class Keys extends AdminCommand {
        @Option(names = "--account", description = "Only this account's keys.")
        String account;

        @Override
        void run(AdminClient client, PrintWriter out) {
            print(out, client.get("/admin/v1/keys" + AdminClient.query(AdminClient.parameters("account", account)), null).json(),
                    answer -> keysTable(answer.path("data")));
        }
    }

    @Command(name = "create", description = "Issue a key to an account; its secret is shown once.")
    static final class KeysCreate extends AdminCommand {
        @Option(names = "--account", required = true)
        String account;

        @Option(names = "--label", defaultValue = "default", description = "A non-secret name in reports (default: ${DEFAULT-VALUE}).")
        String label;

        @Mixin
        CapOptions caps;

        @Mixin
        ScopeOptions scope;

        @Override
        void run(AdminClient client, PrintWriter out) {
            ObjectNode body = JSON.createObjectNode().put("account", account).put("label", label);
            scope.addTo(body);
            if (caps.limits() != null) {
                body.set("limits", caps.limits());
            }
            JsonNode key = client.post("/admin/v1/keys", body, null).json();
            if (connection.json) {
                out.println(key.toPrettyString());
                return;
            }
            keysTable(List.of(key)).print(out);
            out.println();
            out.println("Its secret, shown once (Tollgate keeps only its hash):");
            out.println("  " + key.path("key").asText());
        }
    }

    @Command(name = "show", description = "One key (never its secret).")
    static final class KeysShow extends AdminCommand {
        @Parameters(paramLabel = "KEY_ID")
        String id;

        @Override
        void run(AdminClient client, PrintWriter out) {
            print(out, client.get("/admin/v1/keys/" + id, null).json(), answer -> keysTable(List.of(answer)));
        }
    }

    @Command(name = "limits", description = "Set a key's hard spend caps (the options given; the others stay).")
    static final class KeysLimits extends AdminCommand {
        @Parameters(paramLabel = "KEY_ID")
        String id;

        @Mixin
        CapOptions caps;

        @Override
        void run(AdminClient client, PrintWriter out) {
            ObjectNode limits = caps.limits();
            if (limits == null) {
                throw new IllegalArgumentException("give at least one of --day-cap, --month-cap, --total-cap, --alert-percent");
            }
            ObjectNode body = JSON.createObjectNode();
            body.set("limits", limits);
            print(out, client.patch("/admin/v1/keys/" + id, body).json(), answer -> keysTable(List.of(answer)));
        }
    }

    @Command(name = "update", description = "Change a key's label, scope or caps (the options given; the others stay).")
    static final class KeysUpdate extends AdminCommand {
        @Parameters(paramLabel = "KEY_ID")
        String id;

        @Option(names = "--label", description = "A new non-secret name.")
        String label;

        @Mixin
        ScopeOptions scope;

        @Mixin
        CapOptions caps;

        @Override
        void run(AdminClient client, PrintWriter out) {
            ObjectNode body = JSON.createObjectNode();
            if (label != null) {
                body.put("label", label);
            }
            scope.addTo(body);
            if (caps.limits() != null) {
                body.set("limits", caps.limits());
            }
            if (body.isEmpty()) {
                throw new IllegalArgumentException("give at least one of --label, --env, --lane, --models, --expires, --networks or a cap");
            }
            print(out, client.patch("/admin/v1/keys/" + id, body).json(), answer -> keysTable(List.of(answer)));
        }
    }

    @Command(name = "rotate", description = "Give a key a new secret (shown once); the old one works for --grace-seconds more.")
    static final class KeysRotate extends AdminCommand {
        @Parameters(paramLabel = "KEY_ID")
        String id;

        @Option(names = "--grace-seconds", defaultValue = "0", description = "How long the old secret keeps working (default: ${DEFAULT-VALUE}; at most 2592000, 30 days).")
        long graceSeconds;

        @Override
        void run(AdminClient client, PrintWriter out) {
            JsonNode key = client.post("/admin/v1/keys/" + id + "/rotate", JSON.createObjectNode().put("grace_period_seconds", graceSeconds), null).json();
            if (connection.json) {
                out.println(key.toPrettyString());
                return;
            }
            keysTable(List.of(key)).print(out);
            out.println();
            out.println("Its new secret, shown once (Tollgate keeps only its hash):");
            out.println("  " + key.path("key").asText());
        }
    }

    @Command(name = "revoke", description = "Stop a key from spending, at once.")
    static final class KeysRevoke extends AdminCommand {
        @Parameters(paramLabel = "KEY_ID")
        String id;

        @Override
        void run(AdminClient client, PrintWriter out) {
            print(out, client.post("/admin/v1/keys/" + id + "/revoke", null, null).json(), answer -> keysTable(List.of(answer)));
        }
    }

    @Command(name = "usage", description = "Requests, tokens and cost over a period, grouped as asked.")
    static final class Usage extends AdminCommand {
        @Option(names = "--from", description = "An instant or a UTC day (default: the start of this month).")
        String from;

        @Option(names = "--to", description = "An instant or a UTC day, exclusive (default: now).")
        String to;

        @Option(names = "--group-by", description = "Any of key, model, lane, day, status, account, comma-separated.")
        String groupBy;

        @Option(names = "--account")
        String account;

        @Option(names = "--key", description = "A key id (key_...).")
        String key;

        @Override
        void run(AdminClient client, PrintWriter out) {
            JsonNode answer = client.get("/admin/v1/usage" + AdminClient.query(AdminClient.parameters("from", from, "to", to, "group_by", groupBy,
                    "account", account, "key", key)), null).json();
            print(out, answer, usage -> {
                // The grouped columns only, in the order asked, then the totals.
                List<String> groups = new ArrayList<>();
                usage.path("group_by").forEach(group -> groups.add(group.asText()));
                List<String> headers = new ArrayList<>();
                groups.forEach(group -> headers.add(group.toUpperCase(java.util.Locale.ROOT)));
                headers.addAll(List.of("REQUESTS", "RELEASED", "INPUT", "OUTPUT", "COST"));
                Table table = new Table(headers.toArray(String[]::new));
                for (JsonNode row : usage.path("data")) {
                    List<Object> cells = new ArrayList<>();
                    groups.forEach(group -> cells.add(row.path(group).asText("")));
                    cells.addAll(List.of(row.path("requests").asLong(), row.path("released").asLong(), row.path("input_tokens").asLong(),
                            row.path("output_tokens").asLong(), Money.format(row.path("cost_micros").asLong(), "USD")));
                    table.row(cells.toArray());
                }
                return table;
            });
        }
    }

    @Command(name = "requests", description = "The request log, newest first.")
    static final class Requests extends AdminCommand {
        @Option(names = "--account")
        String account;

        @Option(names = "--key", description = "A key id (key_...).")
        String key;

        @Option(names = "--model")
        String model;

        @Option(names = "--status", description = "settled or released.")
        String status;

        @Option(names = "--limit", defaultValue = "20")
        int limit;

        @Option(names = "--before", description = "The next_before of the previous page.")
        String before;

        @Override
        void run(AdminClient client, PrintWriter out) {
            JsonNode answer = client.get("/admin/v1/requests" + AdminClient.query(AdminClient.parameters("account", account, "key", key, "model", model,
                    "status", status, "limit", Integer.toString(limit), "before", before)), null).json();
            print(out, answer, page -> {
                Table table = new Table("TIME", "REQUEST", "ACCOUNT", "MODEL", "STATUS", "REASON", "INPUT", "OUTPUT", "COST");
                for (JsonNode row : page.path("data")) {
                    table.row(row.path("time").asText(), row.path("request_id").asText(), row.path("account").asText(), row.path("model").asText(),
                            row.path("status").asText(), row.path("reason").asText(), row.path("input_tokens").asLong(),
                            row.path("output_tokens").asLong(), Money.format(row.path("cost_micros").asLong(), "USD"));
                }
                return table;
            });
            if (!connection.json && answer.path("has_more").asBoolean()) {
                out.println("more: --before " + answer.path("next_before").asText());
            }
        }
    }

    @Command(name = "statement", description = "An account's monthly statement (JSON, or CSV with --csv).")
    static final class StatementCommand extends AdminCommand {
        @Parameters(index = "0", paramLabel = "ACCOUNT")
        String account;

        @Parameters(index = "1", paramLabel = "YYYY-MM")
        String month;

        @Option(names = "--csv", description = "The statement as CSV.")
        boolean csv;

        @Override
        void run(AdminClient client, PrintWriter out) {
            AdminClient.Answer answer = client.get("/admin/v1/accounts/" + account + "/statements/" + month, csv ? "text/csv" : null);
            out.print(csv ? answer.body() : answer.json().toPrettyString() + System.lineSeparator());
        }
    }

    @Command(name = "pricing", description = "The price catalog as the node loaded it; check: what in a catalog needs attention.",
            subcommands = {PricingCheckCommand.class})
    static final class Pricing extends AdminCommand {
        @Override
        void run(AdminClient client, PrintWriter out) {
            print(out, client.get("/admin/v1/pricing", null).json(), answer -> {
                Table table = new Table("PROVIDER", "MODEL", "INPUT/M", "CACHED/M", "OUTPUT/M", "AS OF");
                String currency = answer.path("currency").asText("USD");
                for (JsonNode row : answer.path("data")) {
                    table.row(row.path("provider").asText(), row.path("model").asText(), money(row, "input_micros_per_million_tokens", currency),
                            money(row, "cache_read_micros_per_million_tokens", currency), money(row, "output_micros_per_million_tokens", currency),
                            row.path("as_of").asText());
                }
                return table;
            });
        }
    }

    @Command(name = "audit", description = "Every change made through the admin API, newest first, with who made it.")
    static final class Audit extends AdminCommand {
        @Option(names = "--account")
        String account;

        @Option(names = "--limit", defaultValue = "50")
        int limit;

        @Override
        void run(AdminClient client, PrintWriter out) {
            JsonNode answer = client.get("/admin/v1/audit" + AdminClient.query(AdminClient.parameters("account", account, "limit",
                    Integer.toString(limit))), null).json();
            print(out, answer, audit -> {
                Table table = new Table("TIME", "BY", "ACTION", "ACCOUNT", "DETAIL");
                for (JsonNode row : audit.path("data")) {
                    String detail = auditDetail(row);
                    if (!row.path("note").asText("").isEmpty()) {
                        detail += " note: " + row.path("note").asText();
                    }
                    table.row(row.path("time").asText(), row.path("actor").asText(), row.path("action").asText(), row.path("account").asText(""), detail);
                }
                return table;
            });
        }
    }
}
