package dev.tollgate.proxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.proxy.TollgateNode;
import dev.tollgate.proxy.admin.AdminTestNode;
import dev.tollgate.proxy.sim.SimulatedProvider;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The operator's CLI against a real node's admin API: what a person reads, what a script parses, and how it fails. */
class AdminCommandsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private SimulatedProvider sim;
    private TollgateNode node;
    private Function<String, String> originalEnvironment;
    private String token = AdminTestNode.WRITE_TOKEN;

    record Run(int exitCode, String out, String err) {
    }

    @BeforeEach
    void start() throws Exception {
        sim = SimulatedProvider.start(SimulatedProvider.Settings.defaults());
        node = AdminTestNode.start(sim, dir, ApiKeys.newRawKey(new SecureRandom()));
        originalEnvironment = AdminCommands.environment;
        AdminCommands.environment = name -> name.equals("TOLLGATE_ADMIN_TOKEN") ? token
                : name.equals("TOLLGATE_ADMIN_URL") ? "http://127.0.0.1:" + node.adminPort() : null;
    }

    @AfterEach
    void stop() {
        AdminCommands.environment = originalEnvironment;
        node.close();
        sim.close();
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new TollgateCli());
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private static Run ok(String... args) {
        Run run = run(args);
        assertThat(run.exitCode()).as(String.join(" ", args) + ": " + run.err()).isZero();
        assertThat(run.err()).isEmpty();
        return run;
    }

    @Test
    void anOperatorFundsAnAccountIssuesAKeyAndReadsUsageFromTheCommandLine() throws Exception {
        assertThat(ok("accounts", "open", "acme").out()).contains("acme").contains("$0.000000");
        assertThat(ok("topup", "acme", "25", "--note", "invoice 1042", "--idempotency-key", "inv-1042").out())
                .isEqualTo("Credit of $25.000000 applied to acme (idempotency key inv-1042). Available now: $25.000000.\n");
        assertThat(ok("topup", "acme", "25", "--note", "invoice 1042", "--idempotency-key", "inv-1042").out())
                .startsWith("Already applied (idempotency key inv-1042): nothing changed.");
        Run reused = run("topup", "acme", "30", "--idempotency-key", "inv-1042");
        assertThat(reused.exitCode()).isEqualTo(1);
        assertThat(reused.err()).startsWith("tollgate: Idempotency-Key inv-1042 was already used").contains("HTTP 409 idempotency_error");
        assertThat(ok("adjust", "acme", "-2.50", "--reason", "refund, ticket T-7").out()).contains("Adjustment of -$2.500000").contains("$22.500000");

        JsonNode created = JSON.readTree(ok("keys", "create", "--account", "acme", "--label", "ci", "--json").out());
        String secret = created.path("key").asText();
        String keyId = created.path("id").asText();
        HttpResponse<String> answer = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port()
                        + "/v1/chat/completions")).header("Authorization", "Bearer " + secret).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi [sim:events=4]\"}]}"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(answer.statusCode()).isEqualTo(200);

        String keys = ok("keys", "--account", "acme").out();
        assertThat(keys.lines().toList()).hasSize(2);
        assertThat(keys).contains(keyId).contains("active").doesNotContain(secret);
        List<String> usage = ok("usage", "--group-by", "key,model").out().lines().toList();
        assertThat(usage.get(0)).matches("KEY +MODEL +REQUESTS +RELEASED +INPUT +OUTPUT +COST");
        assertThat(usage).hasSize(2);
        assertThat(usage.get(1)).startsWith(keyId).contains("gpt-4o-mini");
        // Columns line up: every cell of the row starts where its header does.
        assertThat(usage.get(1).indexOf("gpt-4o-mini")).isEqualTo(usage.get(0).indexOf("MODEL"));

        JsonNode account = JSON.readTree(ok("accounts", "show", "acme", "--json").out());
        long debited = account.path("debited_micros").asLong();
        assertThat(debited).isPositive();
        assertThat(account.path("available_micros").asLong()).isEqualTo(22_500_000 - debited);
        JsonNode requests = JSON.readTree(ok("requests", "--account", "acme", "--json").out());
        assertThat(requests.path("data").get(0).path("cost_micros").asLong()).isEqualTo(debited);

        List<String> audit = ok("audit").out().lines().toList();
        assertThat(audit).hasSize(5);
        assertThat(audit.get(1)).contains("ops").contains("key.issued");
        assertThat(audit.get(3)).contains("account.credited").contains("$25.000000").contains("note: invoice 1042");
        assertThat(ok("statement", "acme", java.time.YearMonth.now(java.time.ZoneOffset.UTC).toString(), "--csv").out())
                .contains("credit,").contains("inv-1042");
        assertThat(ok("keys", "limits", keyId, "--day-cap", "2", "--total-cap", "none").out()).contains("/ $2.000000, -, -");
        assertThat(JSON.readTree(ok("keys", "show", keyId, "--json").out()).path("limits").path("day_micros").asLong()).isEqualTo(2_000_000);
        assertThat(run("keys", "limits", keyId).err()).contains("give at least one of --day-cap");
        assertThat(ok("audit", "--limit", "1").out()).contains("key.limits_set").contains("caps day_micros=2000000 month_micros=none total_micros=none");
        assertThat(ok("keys", "limits", keyId, "--alert-percent", "80").out()).contains("/ $2.000000, -, - (alert at 80%)");
        assertThat(ok("audit", "--limit", "1").out()).contains("key.alert_set").contains("alert_percent=80");
        assertThat(run("keys", "limits", keyId, "--alert-percent", "most").err()).contains("--alert-percent: a whole number from 1 to 100");
        assertThat(ok("accounts", "update", "acme", "--low-balance-threshold", "5").out()).contains("below $5.000000");
        assertThat(ok("audit", "--limit", "1").out()).contains("account.low_balance_threshold_set").contains("low-balance alert below $5.000000");
        assertThat(JSON.readTree(ok("accounts", "update", "acme", "--low-balance-threshold", "none", "--json").out())
                .path("low_balance_threshold_micros").isNull()).isTrue();
        String updated = ok("keys", "update", keyId, "--label", "ci-nightly", "--env", "batch", "--models", "gpt-4o*, o3", "--networks", "127.0.0.0/8").out();
        assertThat(updated).contains("ci-nightly").contains("env=batch models=gpt-4o*,o3 networks=127.0.0.0/8").contains("/ $2.000000");
        assertThat(ok("audit", "--limit", "1").out()).contains("key.changed").contains("label=ci-nightly env=batch models=gpt-4o*,o3");
        JsonNode scoped = JSON.readTree(ok("keys", "show", keyId, "--json").out());
        assertThat(scoped.path("models").toString()).isEqualTo("[\"gpt-4o*\",\"o3\"]");
        assertThat(ok("keys", "update", keyId, "--models", "all").out()).doesNotContain("models=");
        assertThat(run("keys", "update", keyId).err()).contains("give at least one of --label");
        assertThat(run("keys", "update", keyId, "--networks", "nowhere").err()).contains("networks:").contains("HTTP 400");
        String rotated = ok("keys", "rotate", keyId, "--grace-seconds", "60").out();
        String newSecret = rotated.lines().reduce((first, second) -> second).orElseThrow().strip();
        assertThat(newSecret).matches("tg-[0-9A-Za-z]{49}").isNotEqualTo(secret);
        assertThat(ok("audit", "--limit", "1").out()).contains("key.rotated").contains("new secret " + newSecret.substring(0, 7) + "...")
                .contains("the old one works until");
        assertThat(ok("keys", "revoke", keyId).out()).contains("revoked");
        assertThat(ok("pricing").out()).contains("gpt-4o-mini");
    }

    @Test
    void everyErrorIsAMessageAndExitCodeOne() {
        Run missing = run("accounts", "show", "ghost");
        assertThat(missing.exitCode()).isEqualTo(1);
        assertThat(missing.err()).isEqualTo("tollgate: No account ghost (HTTP 404 not_found_error)\n");
        assertThat(missing.out()).isEmpty();
        Run tooFine = run("topup", "bootstrap", "0.0000001");
        assertThat(tooFine.exitCode()).isEqualTo(1);
        assertThat(tooFine.err()).contains("not a whole number of micro-units");
        Run notAmount = run("topup", "bootstrap", "five");
        assertThat(notAmount.err()).contains("not an amount: five");
        Run unreachable = run("accounts", "--url", "http://127.0.0.1:1");
        assertThat(unreachable.exitCode()).isEqualTo(1);
        assertThat(unreachable.err()).contains("cannot reach the admin API at http://127.0.0.1:1");
        token = AdminTestNode.READ_TOKEN;
        Run readOnly = run("accounts", "open", "acme");
        assertThat(readOnly.exitCode()).isEqualTo(1);
        assertThat(readOnly.err()).contains("may only read").contains("HTTP 403 permission_error");
        token = null;
        Run noToken = run("accounts");
        assertThat(noToken.exitCode()).isEqualTo(1);
        assertThat(noToken.err()).contains("TOLLGATE_ADMIN_TOKEN");
        assertThat(run("accounts", "--no-such-option").exitCode()).isEqualTo(2);
    }

    @Test
    void helpWorksOnEveryCommandAndSubcommand() {
        List<List<String>> paths = new ArrayList<>();
        collect(new CommandLine(new TollgateCli()), new ArrayList<>(), paths);
        assertThat(paths).extracting(path -> String.join(" ", path)).contains("demo", "accounts show", "keys create", "topup", "journal");
        for (List<String> path : paths) {
            List<String> args = new ArrayList<>(path);
            args.add("--help");
            Run help = run(args.toArray(String[]::new));
            assertThat(help.exitCode()).as(String.join(" ", args) + ": " + help.err()).isZero();
            assertThat(help.out()).as(String.join(" ", args)).startsWith("Usage: tollgate " + String.join(" ", path));
        }
    }

    private static void collect(CommandLine command, List<String> path, List<List<String>> paths) {
        for (var entry : command.getSubcommands().entrySet()) {
            if (entry.getKey().equals("help")) {
                continue;
            }
            List<String> sub = new ArrayList<>(path);
            sub.add(entry.getKey());
            paths.add(sub);
            collect(entry.getValue(), sub, paths);
        }
    }
}
