package dev.tollgate.proxy.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.config.ModelRow;
import dev.tollgate.journal.JournalEvent;
import dev.tollgate.journal.Ledger;
import dev.tollgate.journal.reconcile.DebitExport;
import dev.tollgate.journal.reconcile.Reconciler;
import dev.tollgate.journal.reconcile.RequestLog;
import dev.tollgate.journal.reconcile.UsageQuery;
import dev.tollgate.journal.reconcile.UsageRow;
import dev.tollgate.journal.reconcile.UsageTotals;
import dev.tollgate.metering.AccountBook;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.KeyScope;
import dev.tollgate.metering.RateLimiter;
import dev.tollgate.proxy.Gateway;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The admin API's routes over one node's ledger, journal and reconciler: accounts, credits and
 * adjustments, keys, usage, the request log, statements, the debit export, pricing and the audit trail.
 * Independent of HTTP ({@link AdminHandler} carries requests here); every mutation is journaled with the
 * label of the token that made it, so the journal is the audit trail and a restart or replay rebuilds
 * everything. Reads of usage, statements and the request log wait (briefly) for the reconciler to catch
 * up with the journal, so an operator reads what was just written.
 */
public final class AdminApi {
    public static final String PREFIX = "/admin/v1";
    /** The largest single credit or adjustment: a million currency units, far above any real top-up, far below overflow. */
    public static final long MAX_AMOUNT_MICROS = 1_000_000_000_000L;
    static final int MAX_PAGE = RequestLog.MAX_LIMIT;
    private static final Pattern ACCOUNT_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}");
    private static final Pattern KEY_ID = Pattern.compile("key_([0-9a-f]{16})");
    private static final Pattern LABEL = Pattern.compile("[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,63}");
    private static final Pattern VISIBLE_ASCII = Pattern.compile("[\\x21-\\x7e]+");
    private static final Duration CATCH_UP = Duration.ofSeconds(5);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The document of this API, {@code openapi.json} beside this class; it changes only with the build, so it is read once. */
    private static final byte[] OPENAPI_DOCUMENT = openApiDocument();

    /** One admin request, already authenticated. */
    public record Request(HttpMethod method, String path, Map<String, List<String>> query, String idempotencyKey, String accept, byte[] body,
                          AdminTokens.Token token) {
    }

    /** One answer: a status, a content type and the body; {@code replayed} for an idempotent request answered from before. */
    public record Response(HttpResponseStatus status, String contentType, byte[] body, boolean replayed) {
        static Response json(HttpResponseStatus status, JsonNode node) {
            try {
                return new Response(status, "application/json", JSON.writeValueAsBytes(node), false);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }

        static Response error(AdminError error) {
            ObjectNode root = JSON.createObjectNode();
            ObjectNode body = root.putObject("error");
            body.put("type", error.type);
            body.put("message", error.getMessage());
            return json(error.status, root);
        }

        public String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    private final Gateway gateway;
    private final Reconciler reconciler;
    private final SecureRandom random = new SecureRandom();
    private final LongSupplier clockMs;

    public AdminApi(Gateway gateway, Reconciler reconciler, LongSupplier clockMs) {
        this.gateway = gateway;
        this.reconciler = reconciler;
        this.clockMs = clockMs;
    }

    private static byte[] openApiDocument() {
        try (var in = AdminApi.class.getResourceAsStream("openapi.json")) {
            if (in == null) {
                throw new IllegalStateException("openapi.json is missing from the classpath beside " + AdminApi.class.getName());
            }
            return in.readAllBytes();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private Ledger ledger() {
        return gateway.ledger();
    }

    /** Answers {@code request}; a refusal is an error response, never an exception. */
    public Response handle(Request request) {
        try {
            return route(request);
        } catch (AdminError e) {
            return Response.error(e);
        } catch (IllegalArgumentException e) {
            return Response.error(AdminError.badRequest(e.getMessage()));
        } catch (IllegalStateException e) {
            // Out of slots, or the reconciler behind: nothing was changed, and the operator may try again later.
            return Response.error(new AdminError(HttpResponseStatus.SERVICE_UNAVAILABLE, "api_error", e.getMessage()));
        }
    }

    private Response route(Request request) {
        if (!request.path().startsWith(PREFIX + "/")) {
            throw AdminError.notFound("No admin route " + request.method() + " " + request.path());
        }
        String[] parts = request.path().substring(PREFIX.length() + 1).split("/", -1);
        boolean get = request.method().equals(HttpMethod.GET);
        boolean post = request.method().equals(HttpMethod.POST);
        if (!get) {
            requireWrite(request);
        }
        switch (parts[0]) {
            case "accounts" -> {
                if (parts.length == 1) {
                    return get ? listAccounts() : post ? openAccount(request) : methodNotAllowed(request, "GET, POST");
                }
                String accountId = parts[1];
                if (parts.length == 2 && get) {
                    return Response.json(HttpResponseStatus.OK, account(requireAccount(accountId)));
                }
                if (parts.length == 2 && request.method().equals(HttpMethod.PATCH)) {
                    return patchAccount(request, requireAccount(accountId));
                }
                if (parts.length == 3 && post && parts[2].equals("credits")) {
                    return credit(request, requireAccount(accountId));
                }
                if (parts.length == 3 && post && parts[2].equals("adjustments")) {
                    return adjust(request, requireAccount(accountId));
                }
                if (parts.length == 4 && get && parts[2].equals("statements")) {
                    return statement(request, requireAccount(accountId), parts[3]);
                }
                if (parts.length == 3 && parts[2].equals("credentials")) {
                    return get ? credentials(requireAccount(accountId)) : methodNotAllowed(request, "GET");
                }
                if (parts.length == 4 && parts[2].equals("credentials")) {
                    String account = requireAccount(accountId);
                    if (request.method().equals(HttpMethod.PUT)) {
                        return setCredential(request, account, parts[3]);
                    }
                    return request.method().equals(HttpMethod.DELETE) ? removeCredential(request, account, parts[3])
                            : methodNotAllowed(request, "PUT, DELETE");
                }
            }
            case "keys" -> {
                if (parts.length == 1) {
                    return get ? listKeys(request) : post ? issueKey(request) : methodNotAllowed(request, "GET, POST");
                }
                Ledger.KeyRecord key = requireKey(parts[1]);
                if (parts.length == 2 && get) {
                    return Response.json(HttpResponseStatus.OK, key(key));
                }
                if (parts.length == 3 && post && parts[2].equals("revoke")) {
                    return revokeKey(request, key);
                }
                if (parts.length == 3 && post && parts[2].equals("rotate")) {
                    return rotateKey(request, key);
                }
                if (parts.length == 2 && request.method().equals(HttpMethod.PATCH)) {
                    return patchKey(request, key);
                }
            }
            case "usage" -> {
                if (parts.length == 1 && get) {
                    return usage(request);
                }
            }
            case "requests" -> {
                if (parts.length == 1 && get) {
                    return requests(request);
                }
            }
            case "exports" -> {
                if (parts.length == 2 && get && parts[1].equals("debits")) {
                    return debitExport(request);
                }
            }
            case "pricing" -> {
                if (parts.length == 1 && get) {
                    return pricing();
                }
                if (parts.length == 2 && parts[1].equals("reload")) {
                    return post ? reloadPricing(request) : methodNotAllowed(request, "POST");
                }
            }
            case "audit" -> {
                if (parts.length == 1 && get) {
                    return audit(request);
                }
            }
            case "openapi.json" -> {
                if (parts.length == 1 && get) {
                    return new Response(HttpResponseStatus.OK, "application/json", OPENAPI_DOCUMENT, false);
                }
            }
            default -> {
            }
        }
        throw AdminError.notFound("No admin route " + request.method() + " " + request.path());
    }

    private static Response methodNotAllowed(Request request, String allowed) {
        throw new AdminError(HttpResponseStatus.METHOD_NOT_ALLOWED, "invalid_request_error",
                "Method " + request.method() + " is not allowed on " + request.path() + "; use " + allowed + ".");
    }

    private static void requireWrite(Request request) {
        if (!request.token().mayWrite()) {
            throw new AdminError(HttpResponseStatus.FORBIDDEN, "permission_error",
                    "The admin token '" + request.token().label() + "' may only read; this change needs a write token.");
        }
    }

    // --- accounts ---------------------------------------------------------------------------------

    private Response listAccounts() {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode data = root.putArray("data");
        for (String accountId : gateway.accounts().accountIds()) {
            data.add(account(accountId));
        }
        return Response.json(HttpResponseStatus.OK, root);
    }

    private ObjectNode account(String accountId) {
        AccountBook.AccountSnapshot snapshot = gateway.accounts().snapshot(accountId);
        ObjectNode node = JSON.createObjectNode();
        node.put("object", "account");
        node.put("id", accountId);
        node.put("currency", gateway.config().catalog().currency());
        node.put("available_micros", snapshot.availableMicros());
        node.put("reserved_micros", snapshot.reservedMicros());
        node.put("credited_micros", snapshot.creditedMicros());
        node.put("debited_micros", snapshot.debitedMicros());
        node.put("written_off_micros", snapshot.writtenOffMicros());
        node.put("active_keys", ledger().keyRecords().stream().filter(k -> k.accountId().equals(accountId) && !k.revoked()).count());
        putCap(node, "low_balance_threshold_micros", ledger().lowBalanceThreshold(accountId));
        RateLimiter limiter = ledger().accountRateLimiter(gateway.accounts().slotOf(accountId));
        putRateLimits(node.putObject("limits"), limiter == null ? RateLimiter.Limits.NO_LIMITS : limiter.limits());
        return node;
    }

    /**
     * {@code {"limits": {"rpm": 600, "tpm": 200000, "concurrency": 20}, "low_balance_threshold_micros": 5000000}}: the
     * account's rate limits, for all its keys together, and the balance below which its low-balance alert is raised.
     */
    private Response patchAccount(Request request, String accountId) {
        ObjectNode body = body(request, Set.of("limits", "low_balance_threshold_micros", "note"));
        Long threshold = lowBalanceThreshold(body);
        if (body.has("limits")) {
            JsonNode limits = body.get("limits");
            if (!(limits instanceof ObjectNode object)) {
                throw AdminError.badRequest("limits: an object like {\"rpm\": 600, \"tpm\": 200000, \"concurrency\": 20}");
            }
            for (var names = object.fieldNames(); names.hasNext(); ) {
                String name = names.next();
                if (!RATE_FIELDS.contains(name)) {
                    throw AdminError.badRequest("limits: unknown field " + name + " (an account's limits are rpm, tpm and concurrency)");
                }
            }
            RateLimiter limiter = ledger().accountRateLimiter(gateway.accounts().slotOf(accountId));
            RateLimiter.Limits current = limiter == null ? RateLimiter.Limits.NO_LIMITS : limiter.limits();
            RateLimiter.Limits wanted = rateLimits(object, current);
            if (!wanted.equals(current)) {
                ledger().setAccountRateLimits(accountId, wanted, author(request, optionalText(body, "note", 256)));
            }
        }
        if (threshold != null && threshold != ledger().lowBalanceThreshold(accountId)) {
            ledger().setLowBalanceThreshold(accountId, threshold, author(request, optionalText(body, "note", 256)));
        }
        return Response.json(HttpResponseStatus.OK, account(accountId));
    }

    /** The {@code low_balance_threshold_micros} asked for: null when left out, -1 for null (none). */
    private static Long lowBalanceThreshold(ObjectNode body) {
        if (!body.has("low_balance_threshold_micros")) {
            return null;
        }
        JsonNode value = body.get("low_balance_threshold_micros");
        if (value.isNull()) {
            return -1L;
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong() || value.longValue() < 0 || value.longValue() > MAX_AMOUNT_MICROS) {
            throw AdminError.badRequest("low_balance_threshold_micros: an integer number of micro-units from 0 to " + MAX_AMOUNT_MICROS
                    + ", or null for no low-balance alert; found " + value);
        }
        return value.longValue();
    }

    private Response openAccount(Request request) {
        ObjectNode body = body(request, Set.of("id", "low_balance_threshold_micros", "note"));
        String accountId = requiredText(body, "id");
        Long threshold = lowBalanceThreshold(body);
        if (!ACCOUNT_ID.matcher(accountId).matches()) {
            throw AdminError.badRequest("id: an account id is 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit");
        }
        if (gateway.accounts().slotOf(accountId) >= 0) {
            throw AdminError.conflict("conflict_error", "Account " + accountId + " already exists.");
        }
        try {
            ledger().openAccount(accountId, author(request, optionalText(body, "note", 256)));
        } catch (IllegalStateException e) {
            throw AdminError.conflict("capacity_error", e.getMessage());
        }
        if (threshold != null && threshold >= 0) {
            ledger().setLowBalanceThreshold(accountId, threshold, author(request, optionalText(body, "note", 256)));
        }
        return Response.json(HttpResponseStatus.CREATED, account(accountId));
    }

    private String requireAccount(String accountId) {
        if (gateway.accounts().slotOf(accountId) < 0) {
            throw AdminError.notFound("No account " + accountId);
        }
        return accountId;
    }

    // --- money --------------------------------------------------------------------------------------

    private Response credit(Request request, String accountId) {
        ObjectNode body = body(request, Set.of("amount_micros", "note"));
        long amount = amount(body, false);
        String note = optionalText(body, "note", 256);
        String idempotencyKey = idempotencyKey(request);
        Ledger.Applied applied = ledger().creditOnce(accountId, amount, idempotencyKey, author(request, note));
        ObjectNode result = JSON.createObjectNode();
        result.put("object", "credit");
        result.put("account", accountId);
        result.put("amount_micros", amount);
        result.put("note", note);
        result.put("idempotency_key", idempotencyKey);
        return idempotent(applied, result, idempotencyKey);
    }

    private Response adjust(Request request, String accountId) {
        ObjectNode body = body(request, Set.of("amount_micros", "reason", "note"));
        long amount = amount(body, true);
        String reason = requiredText(body, "reason");
        if (reason.getBytes(StandardCharsets.UTF_8).length > 256) {
            throw AdminError.badRequest("reason: at most 256 bytes");
        }
        String note = optionalText(body, "note", 256);
        String idempotencyKey = idempotencyKey(request);
        Ledger.Applied applied = ledger().adjustOnce(accountId, amount, reason, idempotencyKey, author(request, note));
        if (applied == Ledger.Applied.REFUSED) {
            throw AdminError.conflict("insufficient_balance", "An adjustment of " + amount + " micros would take more than the "
                    + gateway.accounts().snapshot(accountId).availableMicros() + " micros available in " + accountId + ".");
        }
        ObjectNode result = JSON.createObjectNode();
        result.put("object", "adjustment");
        result.put("account", accountId);
        result.put("amount_micros", amount);
        result.put("reason", reason);
        result.put("note", note);
        result.put("idempotency_key", idempotencyKey);
        return idempotent(applied, result, idempotencyKey);
    }

    /** Stripe's rule: the same key and body answer as the first time; the same key with another body is a 409. */
    private static Response idempotent(Ledger.Applied applied, ObjectNode result, String idempotencyKey) {
        if (applied == Ledger.Applied.CONFLICT) {
            throw AdminError.conflict("idempotency_error", "Idempotency-Key " + idempotencyKey
                    + " was already used with a different request; use a new key for a new change.");
        }
        Response response = Response.json(HttpResponseStatus.CREATED, result);
        return applied == Ledger.Applied.REPLAYED ? new Response(response.status(), response.contentType(), response.body(), true) : response;
    }

    private static long amount(ObjectNode body, boolean signed) {
        JsonNode value = body.get("amount_micros");
        if (value == null || value.isNull()) {
            throw AdminError.badRequest("amount_micros: missing (an integer number of micro-units)");
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong()) {
            throw AdminError.badRequest("amount_micros: an integer number of micro-units, found " + value);
        }
        long amount = value.longValue();
        if (signed ? amount == 0 : amount <= 0) {
            throw AdminError.badRequest("amount_micros: " + (signed ? "must not be zero" : "must be positive") + ", found " + amount);
        }
        if (Math.abs(amount) > MAX_AMOUNT_MICROS) {
            throw AdminError.badRequest("amount_micros: at most " + MAX_AMOUNT_MICROS + " in one request, found " + amount);
        }
        return amount;
    }

    private static String idempotencyKey(Request request) {
        String key = request.idempotencyKey();
        if (key == null || key.isEmpty()) {
            throw AdminError.badRequest("An Idempotency-Key header is required: a retry with the same key applies the change once.");
        }
        if (key.length() > Ledger.MAX_IDEMPOTENCY_KEY_LENGTH || !VISIBLE_ASCII.matcher(key).matches()) {
            throw AdminError.badRequest("Idempotency-Key: 1 to " + Ledger.MAX_IDEMPOTENCY_KEY_LENGTH + " visible ASCII characters");
        }
        return key;
    }

    // --- keys ---------------------------------------------------------------------------------------

    /** The fields of a key's scope, taken by both POST and PATCH. */
    private static final Set<String> SCOPE_FIELDS = Set.of("env", "lane", "models", "expires_at", "networks");
    /** The longest grace period a rotation may give the old secret: a leaked secret should not live on for long. */
    static final long MAX_GRACE_PERIOD_SECONDS = 30L * 24 * 3600;
    private static final Set<String> CAP_FIELDS = Set.of("day_micros", "month_micros", "total_micros");
    private static final Set<String> RATE_FIELDS = Set.of("rpm", "tpm", "concurrency");
    private static final String ALERT_FIELD = "alert_percent";

    /** The {@code limits.alert_percent} asked for: null when left out, {@code SpendWindows.NO_ALERT} for null (none). */
    private static Integer alertPercent(JsonNode limits) {
        if (!(limits instanceof ObjectNode object) || !object.has(ALERT_FIELD)) {
            return null;
        }
        JsonNode value = object.get(ALERT_FIELD);
        if (value.isNull()) {
            return dev.tollgate.metering.SpendWindows.NO_ALERT;
        }
        if (!value.isIntegralNumber() || !value.canConvertToInt() || value.intValue() < 1 || value.intValue() > 100) {
            throw AdminError.badRequest("limits.alert_percent: an integer from 1 to 100 (the share of each cap at which the key's alert is raised),"
                    + " or null for none; found " + value);
        }
        return value.intValue();
    }

    /** The caps a {@code limits} object asks for, starting from {@code current} (a field left out keeps its value; null clears it). */
    private static Ledger.Caps caps(JsonNode limits, Ledger.Caps current) {
        if (!(limits instanceof ObjectNode object)) {
            throw AdminError.badRequest("limits: an object like {\"day_micros\": 2000000, \"month_micros\": 40000000, \"total_micros\": null}");
        }
        for (var names = object.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!CAP_FIELDS.contains(name) && !RATE_FIELDS.contains(name) && !name.equals(ALERT_FIELD)) {
                throw AdminError.badRequest("limits: unknown field " + name + " (known: day_micros, month_micros, total_micros, alert_percent, rpm, tpm, concurrency)");
            }
        }
        alertPercent(object); // validated with the rest, so a refused request changes nothing
        return new Ledger.Caps(cap(object, "day_micros", current.dayMicros()), cap(object, "month_micros", current.monthMicros()),
                cap(object, "total_micros", current.totalMicros()));
    }

    private static boolean hasAny(JsonNode limits, Set<String> fields) {
        return limits instanceof ObjectNode object && fields.stream().anyMatch(object::has);
    }

    /** The rate limits a {@code limits} object asks for, starting from {@code current}: left out keeps, null clears. */
    private static RateLimiter.Limits rateLimits(ObjectNode limits, RateLimiter.Limits current) {
        try {
            return new RateLimiter.Limits(rate(limits, "rpm", current.rpm(), RateLimiter.MAX_PER_MINUTE),
                    rate(limits, "tpm", current.tpm(), RateLimiter.MAX_PER_MINUTE),
                    rate(limits, "concurrency", current.concurrency(), RateLimiter.MAX_CONCURRENCY));
        } catch (IllegalArgumentException e) {
            throw AdminError.badRequest("limits." + e.getMessage());
        }
    }

    private static long rate(ObjectNode limits, String field, long current, long max) {
        if (!limits.has(field)) {
            return current;
        }
        JsonNode value = limits.get(field);
        if (value.isNull()) {
            return RateLimiter.NONE;
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong() || value.longValue() < 1 || value.longValue() > max) {
            throw AdminError.badRequest("limits." + field + ": an integer from 1 to " + max + ", or null for no limit; found " + value);
        }
        return value.longValue();
    }

    private static long cap(ObjectNode limits, String field, long current) {
        if (!limits.has(field)) {
            return current;
        }
        JsonNode value = limits.get(field);
        if (value.isNull()) {
            return dev.tollgate.metering.SpendWindows.NO_CAP;
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong() || value.longValue() < 0
                || value.longValue() > dev.tollgate.metering.SpendWindows.MAX_CAP_MICROS) {
            throw AdminError.badRequest("limits." + field + ": an integer number of micro-units from 0 to "
                    + dev.tollgate.metering.SpendWindows.MAX_CAP_MICROS + ", or null for no cap; found " + value);
        }
        return value.longValue();
    }

    private Response patchKey(Request request, Ledger.KeyRecord key) {
        Set<String> known = new java.util.HashSet<>(SCOPE_FIELDS);
        known.addAll(Set.of("limits", "label", "note"));
        ObjectNode body = body(request, known);
        if (key.revoked()) {
            throw AdminError.conflict("conflict_error", "Key " + keyId(key.keyHash()) + " is revoked.");
        }
        Ledger.Author author = author(request, optionalText(body, "note", 256));
        // Everything is validated before anything is journaled, so a refused PATCH changes nothing.
        Ledger.Caps newCaps = body.has("limits") ? caps(body.get("limits"), ledger().caps(key.keyHash())) : null;
        if (newCaps != null && !hasAny(body.get("limits"), CAP_FIELDS)) {
            newCaps = null; // only rate limits given: no caps record
        }
        RateLimiter.Limits newRates = hasAny(body.get("limits"), RATE_FIELDS)
                ? rateLimits((ObjectNode) body.get("limits"), ledger().keyRateLimits(key.keyHash())) : null;
        Integer newAlertPercent = alertPercent(body.get("limits"));
        String label = body.has("label") ? label(body) : key.label();
        KeyScope scope = scope(body, ledger().scope(key.keyHash()));
        requireDeclaredLane(body, scope);
        // The caps first: the one change that can be refused after validation (no spend-cap slot left, the reconciler too
        // slow to say what the key spent), so a refused PATCH journals nothing.
        if (newCaps != null && !newCaps.equals(ledger().caps(key.keyHash()))) {
            long now = clockMs.getAsLong();
            try {
                ledger().setCaps(key.keyHash(), newCaps, author,
                        () -> {
                            ledger().writer().awaitWritten(); // debits still queued for the journal count too
                            return reconciler.spentByKey(now, CATCH_UP).getOrDefault(key.keyHash(), new long[3]);
                        });
            } catch (IllegalStateException e) {
                throw AdminError.conflict("capacity_error", e.getMessage());
            }
        }
        if (!label.equals(key.label()) || !scope.equals(ledger().scope(key.keyHash()))) {
            ledger().setScope(key.keyHash(), label, scope, author);
        }
        if (newRates != null && !newRates.equals(ledger().keyRateLimits(key.keyHash()))) {
            ledger().setKeyRateLimits(key.keyHash(), newRates, author);
        }
        if (newAlertPercent != null && newAlertPercent != ledger().keyAlertPercent(key.keyHash())) {
            ledger().setKeyAlertPercent(key.keyHash(), newAlertPercent, author);
        }
        return Response.json(HttpResponseStatus.OK, key(ledger().keyRecord(key.keyHash())));
    }

    private Response issueKey(Request request) {
        Set<String> known = new java.util.HashSet<>(SCOPE_FIELDS);
        known.addAll(Set.of("account", "label", "note", "limits"));
        ObjectNode body = body(request, known);
        Ledger.Caps newCaps = body.has("limits") && !body.get("limits").isNull() ? caps(body.get("limits"), Ledger.Caps.NONE) : Ledger.Caps.NONE;
        RateLimiter.Limits newRates = hasAny(body.get("limits"), RATE_FIELDS)
                ? rateLimits((ObjectNode) body.get("limits"), RateLimiter.Limits.NO_LIMITS) : RateLimiter.Limits.NO_LIMITS;
        Integer alertPercent = alertPercent(body.get("limits"));
        KeyScope scope = scope(body, KeyScope.UNRESTRICTED);
        requireDeclaredLane(body, scope);
        String accountId = requireAccount(requiredText(body, "account"));
        String label = body.has("label") ? label(body) : "default";
        if (newCaps.any() && ledger().freeSpendSlots() == 0) {
            // Before the key is issued: a key issued and then refused its caps would be left behind, uncapped.
            throw AdminError.conflict("capacity_error", "all " + ledger().spendWindows().capacity() + " spend-cap slots are in use");
        }
        String secret = ApiKeys.newRawKey(random);
        String hash = ApiKeys.sha256Hex(secret);
        Ledger.Author author = author(request, optionalText(body, "note", 256));
        ledger().issueKey(hash, ApiKeys.displayPrefix(secret), label, accountId, author);
        // Both before the secret is shown, so the key never spends uncapped or unscoped.
        if (scope != KeyScope.UNRESTRICTED) {
            ledger().setScope(hash, label, scope, author);
        }
        if (newCaps.any()) {
            ledger().setCaps(hash, newCaps, author);
        }
        if (newRates.any()) {
            ledger().setKeyRateLimits(hash, newRates, author);
        }
        if (alertPercent != null && alertPercent != dev.tollgate.metering.SpendWindows.NO_ALERT) {
            ledger().setKeyAlertPercent(hash, alertPercent, author);
        }
        ObjectNode node = key(ledger().keyRecord(hash));
        node.put("key", secret); // the only time the secret is shown: only its hash is kept
        return Response.json(HttpResponseStatus.CREATED, node);
    }

    /**
     * A new secret for a key, shown once; the old one keeps working for {@code grace_period_seconds} (default 0: it stops
     * now). The key keeps its id, caps, scope and history.
     */
    private Response rotateKey(Request request, Ledger.KeyRecord key) {
        ObjectNode body = request.body().length == 0 ? JSON.createObjectNode() : body(request, Set.of("grace_period_seconds", "note"));
        if (key.revoked()) {
            throw AdminError.conflict("conflict_error", "Key " + keyId(key.keyHash()) + " is revoked.");
        }
        if (key.displayPrefix().isEmpty()) {
            throw AdminError.conflict("conflict_error", "Key " + keyId(key.keyHash())
                    + " comes from the configuration file: replace its hash there to rotate it.");
        }
        long graceSeconds = 0;
        JsonNode grace = body.get("grace_period_seconds");
        if (grace != null && !grace.isNull()) {
            if (!grace.isIntegralNumber() || !grace.canConvertToLong() || grace.longValue() < 0 || grace.longValue() > MAX_GRACE_PERIOD_SECONDS) {
                throw AdminError.badRequest("grace_period_seconds: an integer from 0 to " + MAX_GRACE_PERIOD_SECONDS + " (30 days), found " + grace);
            }
            graceSeconds = grace.longValue();
        }
        String secret = ApiKeys.newRawKey(random);
        ledger().rotateKey(key.keyHash(), ApiKeys.sha256Hex(secret), ApiKeys.displayPrefix(secret), clockMs.getAsLong() + graceSeconds * 1000,
                author(request, optionalText(body, "note", 256)));
        ObjectNode node = key(ledger().keyRecord(key.keyHash()));
        node.put("key", secret);
        return Response.json(HttpResponseStatus.OK, node);
    }

    private static String label(ObjectNode body) {
        String label = requiredText(body, "label");
        if (!LABEL.matcher(label).matches()) {
            throw AdminError.badRequest("label: 1 to 64 letters, digits, spaces or _ . : / -, starting with a letter or digit");
        }
        return label;
    }

    /** The scope a body asks for, starting from {@code current}: a field left out keeps its value, null clears it. */
    private static KeyScope scope(ObjectNode body, KeyScope current) {
        String env = body.has("env") ? tag(body, "env") : current.env();
        String lane = body.has("lane") ? tag(body, "lane") : current.lane();
        List<String> models = body.has("models") ? strings(body, "models") : current.models();
        List<String> networks = body.has("networks") ? strings(body, "networks") : current.networks();
        long expiresAtMs = current.expiresAtMs();
        if (body.has("expires_at")) {
            JsonNode value = body.get("expires_at");
            if (value.isNull()) {
                expiresAtMs = KeyScope.NO_EXPIRY;
            } else {
                try {
                    expiresAtMs = Instant.parse(value.asText()).toEpochMilli();
                } catch (java.time.format.DateTimeParseException | ArithmeticException e) {
                    expiresAtMs = -2;
                }
                if (!value.isTextual() || expiresAtMs < 0) {
                    throw AdminError.badRequest("expires_at: an RFC 3339 UTC time like \"2027-01-01T00:00:00Z\", or null for never; found " + value);
                }
            }
        }
        try {
            return KeyScope.of(env, lane, models, expiresAtMs, networks);
        } catch (IllegalArgumentException e) {
            throw AdminError.badRequest(e.getMessage());
        }
    }

    /**
     * A key's lane tag binds its requests to that lane, so one set here must name a declared lane. Checked only when the
     * body sets it: a key tagged before lanes were declared keeps working (in the first lane) through other changes.
     */
    private void requireDeclaredLane(ObjectNode body, KeyScope scope) {
        if (body.has("lane") && !scope.lane().isEmpty() && !gateway.lanes().declares(scope.lane())) {
            throw AdminError.badRequest("lane: no lane named \"" + scope.lane() + "\" is declared; the lanes are " + gateway.lanes().names()
                    + " (or null for the first)");
        }
    }

    private static String tag(ObjectNode body, String field) {
        JsonNode value = body.get(field);
        if (value.isNull()) {
            return "";
        }
        if (!value.isTextual()) {
            throw AdminError.badRequest(field + ": a string like \"production\", or null for none; found " + value);
        }
        return value.asText();
    }

    private static List<String> strings(ObjectNode body, String field) {
        JsonNode value = body.get(field);
        if (value.isNull()) {
            return List.of();
        }
        if (!value.isArray()) {
            throw AdminError.badRequest(field + ": an array of strings, or null for no restriction; found " + value);
        }
        if (value.isEmpty()) {
            throw AdminError.badRequest(field + ": an empty list would allow nothing; give null for no restriction, or revoke the key");
        }
        List<String> values = new java.util.ArrayList<>();
        for (JsonNode item : value) {
            if (!item.isTextual()) {
                throw AdminError.badRequest(field + ": an array of strings; found " + item);
            }
            values.add(item.asText());
        }
        return values;
    }

    private Response listKeys(Request request) {
        String account = query(request, "account");
        if (account != null) {
            requireAccount(account);
        }
        ObjectNode root = JSON.createObjectNode();
        ArrayNode data = root.putArray("data");
        for (Ledger.KeyRecord key : ledger().keyRecords()) {
            if (account == null || key.accountId().equals(account)) {
                data.add(key(key));
            }
        }
        return Response.json(HttpResponseStatus.OK, root);
    }

    private Response revokeKey(Request request, Ledger.KeyRecord key) {
        if (!key.revoked()) {
            ObjectNode body = request.body().length == 0 ? JSON.createObjectNode() : body(request, Set.of("note"));
            ledger().revokeKey(key.keyHash(), author(request, optionalText(body, "note", 256)));
        }
        return Response.json(HttpResponseStatus.OK, key(ledger().keyRecord(key.keyHash())));
    }

    /** A key's public id: {@code key_} and the first 16 hex digits of its hash (which already names no secret). */
    public static String keyId(String keyHash) {
        return "key_" + keyHash.substring(0, 16);
    }

    private Ledger.KeyRecord requireKey(String id) {
        Matcher matcher = KEY_ID.matcher(id);
        if (matcher.matches()) {
            for (Ledger.KeyRecord key : ledger().keyRecords()) {
                if (key.keyHash().startsWith(matcher.group(1))) {
                    return key;
                }
            }
        }
        throw AdminError.notFound("No key " + id + " (key ids look like key_0123456789abcdef)");
    }

    private ObjectNode key(Ledger.KeyRecord key) {
        ObjectNode node = JSON.createObjectNode();
        node.put("object", "key");
        node.put("id", keyId(key.keyHash()));
        node.put("account", key.accountId());
        node.put("label", key.label());
        node.put("prefix", key.displayPrefix());
        long nowMs = clockMs.getAsLong();
        KeyScope scope = ledger().scope(key.keyHash());
        node.put("status", key.revoked() ? "revoked" : scope.expiredAt(nowMs) ? "expired" : "active");
        node.put("source", key.displayPrefix().isEmpty() ? "config" : "admin");
        putTag(node, "env", scope.env());
        putTag(node, "lane", scope.lane());
        putStrings(node, "models", scope.models());
        if (scope.expiresAtMs() == KeyScope.NO_EXPIRY) {
            node.putNull("expires_at");
        } else {
            node.put("expires_at", Instant.ofEpochMilli(scope.expiresAtMs()).toString());
        }
        putStrings(node, "networks", scope.networks());
        capsAndSpend(node, ledger(), key.keyHash(), nowMs);
        // A rotated key's earlier secrets that still work, and until when: the operator sees what a leak would still open.
        ArrayNode previous = node.putArray("previous_secrets");
        for (var secret : ledger().secrets(key.keyHash())) {
            if (secret.validUntilMs() != dev.tollgate.journal.LedgerState.Secret.CURRENT && secret.validUntilMs() > nowMs && !key.revoked()) {
                previous.addObject().put("prefix", secret.displayPrefix()).put("valid_until", Instant.ofEpochMilli(secret.validUntilMs()).toString());
            }
        }
        return node;
    }

    /**
     * {@code limits} (the caps, null for none) and {@code spend} (what the key used in the current UTC day, month and in
     * total: held plus debited), shared with the key holder's balance endpoint.
     */
    public static void capsAndSpend(ObjectNode node, Ledger ledger, String keyHash, long nowMs) {
        Ledger.Caps caps = ledger.caps(keyHash);
        ObjectNode limits = node.putObject("limits");
        putCap(limits, "day_micros", caps.dayMicros());
        putCap(limits, "month_micros", caps.monthMicros());
        putCap(limits, "total_micros", caps.totalMicros());
        putCap(limits, "alert_percent", ledger.keyAlertPercent(keyHash));
        putRateLimits(limits, ledger.keyRateLimits(keyHash));
        int slot = ledger.spendSlot(keyHash);
        if (slot >= 0) {
            dev.tollgate.metering.SpendWindows windows = ledger.spendWindows();
            ObjectNode spend = node.putObject("spend");
            spend.put("day_micros", windows.used(slot, dev.tollgate.metering.SpendWindows.Window.DAY, dev.tollgate.metering.SpendWindows.dayOf(nowMs)));
            spend.put("month_micros", windows.used(slot, dev.tollgate.metering.SpendWindows.Window.MONTH,
                    dev.tollgate.metering.SpendWindows.monthOf(nowMs)));
            spend.put("total_micros", windows.used(slot, dev.tollgate.metering.SpendWindows.Window.TOTAL, 0));
        }
    }

    private static void putRateLimits(ObjectNode limits, RateLimiter.Limits rates) {
        putCap(limits, "rpm", rates.rpm());
        putCap(limits, "tpm", rates.tpm());
        putCap(limits, "concurrency", rates.concurrency());
    }

    private static void putTag(ObjectNode node, String field, String tag) {
        if (tag.isEmpty()) {
            node.putNull(field);
        } else {
            node.put(field, tag);
        }
    }

    private static void putStrings(ObjectNode node, String field, List<String> values) {
        if (values.isEmpty()) {
            node.putNull(field); // no restriction, which an empty list would not say
        } else {
            ArrayNode array = node.putArray(field);
            values.forEach(array::add);
        }
    }

    private static void putCap(ObjectNode node, String field, long cap) {
        if (cap < 0) {
            node.putNull(field);
        } else {
            node.put(field, cap);
        }
    }

    // --- reads from the journal ---------------------------------------------------------------------

    private void catchUp() {
        if (!reconciler.awaitCaughtUp(CATCH_UP)) {
            throw new AdminError(HttpResponseStatus.SERVICE_UNAVAILABLE, "api_error",
                    "The reconciler has not caught up with the journal" + (reconciler.failure() != null ? " (it failed: see the log)" : "") + ".");
        }
    }

    private Response usage(Request request) {
        long toMs = instant(request, "to", clockMs.getAsLong() + 1);
        long fromMs = instant(request, "from", YearMonth.from(Instant.ofEpochMilli(toMs - 1).atZone(ZoneOffset.UTC)).atDay(1)
                .atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli());
        if (fromMs >= toMs) {
            throw AdminError.badRequest("from must be before to");
        }
        Set<UsageQuery.Dimension> dimensions = EnumSet.noneOf(UsageQuery.Dimension.class);
        boolean byStatus = false;
        String groupBy = query(request, "group_by");
        List<String> groups = new ArrayList<>();
        if (groupBy != null && !groupBy.isBlank()) {
            for (String name : groupBy.split(",")) {
                String dimension = name.trim();
                groups.add(dimension);
                switch (dimension) {
                    case "account" -> dimensions.add(UsageQuery.Dimension.ACCOUNT);
                    case "key" -> dimensions.add(UsageQuery.Dimension.KEY);
                    case "model" -> dimensions.add(UsageQuery.Dimension.MODEL);
                    case "lane" -> dimensions.add(UsageQuery.Dimension.LANE);
                    case "day" -> dimensions.add(UsageQuery.Dimension.DAY);
                    case "status" -> byStatus = true;
                    default -> throw AdminError.badRequest("group_by: " + dimension + " is not one of account, key, model, lane, day, status");
                }
            }
        }
        UsageQuery query = new UsageQuery(fromMs, toMs, null, null, dimensions);
        String account = query(request, "account");
        if (account != null) {
            query = query.forAccount(requireAccount(account));
        }
        String key = query(request, "key");
        if (key != null) {
            query = query.forKey(requireKey(key).keyHash());
        }
        catchUp();
        List<UsageRow> rows = reconciler.usage(query);
        ObjectNode root = JSON.createObjectNode();
        root.put("from", Instant.ofEpochMilli(fromMs).toString());
        root.put("to", Instant.ofEpochMilli(toMs).toString());
        ArrayNode groupNames = root.putArray("group_by");
        groups.forEach(groupNames::add);
        ArrayNode data = root.putArray("data");
        for (UsageRow row : rows) {
            if (byStatus) {
                UsageTotals settled = row.totals().settledOnly();
                if (settled.requests() > 0) {
                    usageRow(data.addObject(), row, "settled", settled);
                }
                if (row.totals().released() > 0) {
                    usageRow(data.addObject(), row, "released",
                            new UsageTotals(row.totals().released(), row.totals().released(), 0, 0, 0, 0, 0, 0, 0));
                }
            } else {
                usageRow(data.addObject(), row, null, row.totals());
            }
        }
        return Response.json(HttpResponseStatus.OK, root);
    }

    private static void usageRow(ObjectNode node, UsageRow row, String status, UsageTotals totals) {
        if (row.accountId() != null) {
            node.put("account", row.accountId());
        }
        if (row.keyHash() != null) {
            node.put("key", keyId(row.keyHash()));
        }
        if (row.model() != null) {
            node.put("provider", row.provider());
            node.put("model", row.model());
        }
        if (row.lane() != null) {
            node.put("lane", row.lane());
        }
        if (row.day() != null) {
            node.put("day", row.day().toString());
        }
        if (status != null) {
            node.put("status", status);
        }
        node.put("requests", totals.requests());
        node.put("released", totals.released());
        node.put("input_tokens", totals.inputTokens());
        node.put("cache_read_tokens", totals.cacheReadTokens());
        node.put("cache_write_tokens", totals.cacheWriteTokens());
        node.put("output_tokens", totals.outputTokens());
        node.put("reasoning_tokens", totals.reasoningTokens());
        node.put("cost_micros", totals.costMicros());
        node.put("debited_micros", totals.debitedMicros());
        node.put("written_off_micros", totals.writtenOffMicros());
        // Billed by the provider on the account's own keys (direct routes): beside the prepaid spend, never in the balance.
        node.put("direct_cost_micros", totals.directMicros());
        node.put("total_spend_micros", totals.totalSpendMicros());
    }

    private Response requests(Request request) {
        String account = query(request, "account");
        String key = query(request, "key");
        int limit = (int) number(request, "limit", 50, 1, MAX_PAGE);
        RequestLog.Query query = new RequestLog.Query(account == null ? null : requireAccount(account), key == null ? null : requireKey(key).keyHash(),
                query(request, "model"), null, limit, RequestLog.NEWEST, RequestLog.DEFAULT_MAX_SCANNED);
        String status = query(request, "status");
        if (status != null) {
            query = query.status(switch (status) {
                case "settled" -> RequestLog.Status.SETTLED;
                case "released" -> RequestLog.Status.RELEASED;
                default -> throw AdminError.badRequest("status: settled or released, found " + status);
            });
        }
        String before = query(request, "before");
        if (before != null) {
            try {
                query = query.before(Long.parseUnsignedLong(before, 16));
            } catch (NumberFormatException e) {
                throw AdminError.badRequest("before: the next_before of the previous page (hex), found " + before);
            }
        }
        RequestLog.Page page = reconciler.requestLog(query);
        ObjectNode root = JSON.createObjectNode();
        ArrayNode data = root.putArray("data");
        for (RequestLog.Entry entry : page.entries()) {
            ObjectNode node = data.addObject();
            JournalEvent.RequestFacts facts = entry.request();
            node.put("request_id", facts.requestId());
            node.put("journal_index", Long.toHexString(entry.index()));
            node.put("time", Instant.ofEpochMilli(entry.timestampMs()).toString());
            node.put("status", entry.status().name().toLowerCase(java.util.Locale.ROOT));
            node.put("reason", entry.reason());
            node.put("account", facts.accountId());
            node.put("key", keyId(facts.keyHash()));
            node.put("lane", facts.lane());
            node.put("provider", facts.provider());
            node.put("model", facts.model());
            node.put("endpoint", facts.endpoint());
            node.put("duration_ms", facts.endMs() - facts.startMs());
            node.put("input_tokens", entry.usage().inputTokens());
            node.put("cache_read_tokens", entry.usage().cacheReadTokens());
            node.put("cache_write_tokens", entry.usage().cacheWriteTokens());
            node.put("output_tokens", entry.usage().outputTokens());
            node.put("reasoning_tokens", entry.usage().reasoningTokens());
            node.put("cache_write_1h_tokens", entry.usage().cacheWrite1hTokens());
            node.put("audio_input_tokens", entry.usage().audioInputTokens());
            node.put("image_input_tokens", entry.usage().imageInputTokens());
            node.put("audio_output_tokens", entry.usage().audioOutputTokens());
            node.put("image_output_tokens", entry.usage().imageOutputTokens());
            com.fasterxml.jackson.databind.node.ObjectNode calls = node.putObject("server_tool_calls");
            new java.util.TreeMap<>(entry.usage().serverToolCalls()).forEach(calls::put);
            com.fasterxml.jackson.databind.node.ObjectNode units = node.putObject("units");
            new java.util.TreeMap<>(entry.usage().units()).forEach(units::put);
            if (facts.serviceTier().isEmpty()) {
                node.putNull("service_tier");
            } else {
                node.put("service_tier", facts.serviceTier());
            }
            node.put("usage_reported_by", entry.usageReportedByProvider() ? "provider" : "tollgate");
            node.put("cost_micros", entry.costMicros());
            node.put("debited_micros", entry.debitedMicros());
            node.put("written_off_micros", entry.writtenOffMicros());
            node.put("upstream_request_id", facts.upstreamRequestId());
            if (facts.catalogVersion().isEmpty()) {
                node.putNull("catalog_version"); // journaled before catalog versions were
            } else {
                node.put("catalog_version", facts.catalogVersion());
            }
            if (facts.requestedModel().isEmpty()) {
                node.putNull("requested_model");
            } else {
                node.put("requested_model", facts.requestedModel());
            }
            if (facts.attempts().isEmpty()) {
                node.putNull("attempts_before");
            } else {
                node.put("attempts_before", facts.attempts());
            }
            node.put("billed_by", facts.billedBy());
            if (facts.direct()) {
                node.put("direct_cost_micros", facts.directCostMicros());
            } else {
                node.putNull("direct_cost_micros");
            }
        }
        root.put("has_more", page.hasMore());
        if (page.hasMore()) {
            root.put("next_before", Long.toHexString(page.nextCursor()));
        } else {
            root.putNull("next_before");
        }
        return Response.json(HttpResponseStatus.OK, root);
    }

    private Response statement(Request request, String accountId, String month) {
        YearMonth yearMonth;
        try {
            yearMonth = YearMonth.parse(month);
        } catch (DateTimeParseException e) {
            throw AdminError.badRequest("A statement month is yyyy-mm, found " + month);
        }
        catchUp();
        var statement = reconciler.statement(accountId, yearMonth);
        if (request.accept() != null && request.accept().contains("text/csv")) {
            return new Response(HttpResponseStatus.OK, "text/csv; charset=utf-8", statement.toCsv().getBytes(StandardCharsets.UTF_8), false);
        }
        return new Response(HttpResponseStatus.OK, "application/json", statement.toJson().getBytes(StandardCharsets.UTF_8), false);
    }

    private Response debitExport(Request request) {
        long toMs = instant(request, "to", clockMs.getAsLong() + 1);
        long fromMs = instant(request, "from", 0);
        if (fromMs >= toMs) {
            throw AdminError.badRequest("from must be before to");
        }
        Map<String, String> labels = new HashMap<>();
        for (Ledger.KeyRecord key : ledger().keyRecords()) {
            labels.put(key.keyHash(), key.label());
        }
        StringBuilder csv = new StringBuilder(4096);
        DebitExport.write(ledger().journal(), fromMs, toMs, labels, csv);
        return new Response(HttpResponseStatus.OK, "text/csv; charset=utf-8", csv.toString().getBytes(StandardCharsets.UTF_8), false);
    }

    private Response pricing() {
        Gateway.CatalogInForce inForce = gateway.catalogInForce();
        var catalog = inForce.catalog();
        ObjectNode root = JSON.createObjectNode();
        root.put("version", catalog.version());
        root.put("source", catalog.source());
        root.put("loaded_at", Instant.ofEpochMilli(inForce.loadedAtMs()).toString());
        root.put("currency", catalog.currency());
        root.put("micros_per_unit", catalog.microsPerUnit());
        ArrayNode data = root.putArray("data");
        for (ModelRow row : catalog.rows()) {
            ObjectNode node = data.addObject();
            node.put("provider", row.provider());
            node.put("model", row.model());
            ArrayNode endpoints = node.putArray("endpoints");
            row.endpoints().stream().map(e -> e.name().toLowerCase(java.util.Locale.ROOT)).sorted().forEach(endpoints::add);
            node.put("context_window_tokens", row.contextWindowTokens());
            node.put("max_output_tokens", row.maxOutputTokens());
            node.put("input_micros_per_million_tokens", row.inputMicrosPerMillionTokens());
            node.put("cache_read_micros_per_million_tokens", row.cacheReadMicrosPerMillionTokens());
            node.put("cache_write_micros_per_million_tokens", row.cacheWriteMicrosPerMillionTokens());
            node.put("output_micros_per_million_tokens", row.outputMicrosPerMillionTokens());
            node.put("as_of", row.asOf().toString());
            node.put("source", String.valueOf(row.source()));
            ArrayNode tiers = node.putArray("tiers");
            for (dev.tollgate.config.PriceTier tier : row.tiers()) {
                tiers.addObject().put("above_prompt_tokens", tier.abovePromptTokens())
                        .put("input_micros_per_million_tokens", tier.inputMicrosPerMillionTokens())
                        .put("cache_read_micros_per_million_tokens", tier.cacheReadMicrosPerMillionTokens())
                        .put("cache_write_micros_per_million_tokens", tier.cacheWriteMicrosPerMillionTokens())
                        .put("output_micros_per_million_tokens", tier.outputMicrosPerMillionTokens())
                        .set("token_class_micros_per_million_tokens", classPrices(tier.tokenClassPrices()));
            }
            node.set("token_class_micros_per_million_tokens", classPrices(row.tokenClassPrices()));
            ObjectNode toolFees = node.putObject("server_tool_fees");
            new java.util.TreeMap<>(row.serverToolFees()).forEach((tool, fee) -> toolFees.putObject(tool)
                    .put("micros_per_call", fee.microsPerCall()).put("max_calls_per_request", fee.maxCallsPerRequest()));
            node.put("request_fee_micros", row.requestFeeMicros());
            ObjectNode unitPrices = node.putObject("unit_prices");
            new java.util.TreeMap<>(row.unitPrices()).forEach(unitPrices::put);
            ArrayNode windows = node.putArray("time_windows");
            for (dev.tollgate.config.TimeWindow window : row.timeWindows()) {
                ObjectNode w = windows.addObject().put("time_zone", window.zone().getId());
                ArrayNode days = w.putArray("days");
                window.days().stream().sorted().forEach(day -> days.add(day.name().substring(0, 3).toLowerCase(java.util.Locale.ROOT)));
                w.put("from", String.format(java.util.Locale.ROOT, "%02d:%02d", window.fromMinute() / 60, window.fromMinute() % 60));
                w.put("until", String.format(java.util.Locale.ROOT, "%02d:%02d", window.untilMinute() / 60, window.untilMinute() % 60));
                w.put("percent", window.percent());
            }
            ObjectNode serviceTiers = node.putObject("service_tiers");
            row.serviceTiers().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
                    .forEach(tier -> serviceTiers.put(tier.getKey(), tier.getValue()));
            node.put("effective_from", row.effectiveFrom() == null ? null : row.effectiveFrom().toString());
            node.put("effective_until", row.effectiveUntil() == null ? null : row.effectiveUntil().toString());
            node.put("row_version", row.rowVersion());
        }
        return Response.json(HttpResponseStatus.OK, root);
    }

    private static ObjectNode classPrices(java.util.Map<dev.tollgate.config.TokenClass, Long> prices) {
        ObjectNode node = JSON.createObjectNode();
        for (dev.tollgate.config.TokenClass tokenClass : dev.tollgate.config.TokenClass.values()) {
            Long price = prices.get(tokenClass);
            if (price != null) {
                node.put(tokenClass.yamlName(), price);
            }
        }
        return node;
    }

    /**
     * Reads the price catalog again (as SIGHUP does): requests admitted from now on are priced by it, those already
     * admitted keep their price. A catalog with problems is refused with every problem, and nothing changes.
     */
    private Response reloadPricing(Request request) {
        String note = request.body().length == 0 ? "" : optionalText(body(request, Set.of("note")), "note", 256);
        Gateway.Reload reload;
        try {
            reload = gateway.reloadCatalog(author(request, note));
        } catch (Gateway.ReloadRefused refused) {
            ObjectNode root = JSON.createObjectNode();
            ObjectNode error = root.putObject("error");
            error.put("type", "invalid_request_error");
            error.put("message", "The price catalog was not reloaded; the one in force stays: " + String.join("\n", refused.problems()));
            ArrayNode problems = error.putArray("problems");
            refused.problems().forEach(problems::add);
            return Response.json(HttpResponseStatus.BAD_REQUEST, root);
        }
        ObjectNode root = JSON.createObjectNode();
        root.put("version", reload.catalog().version());
        root.put("previous_version", reload.previousVersion());
        root.put("changed", reload.changed());
        root.put("source", reload.catalog().source());
        root.put("rows", reload.catalog().rows().size());
        root.put("loaded_at", Instant.ofEpochMilli(reload.loadedAtMs()).toString());
        return Response.json(HttpResponseStatus.OK, root);
    }

    // --- provider credentials (direct routes) ------------------------------------------------------

    private Response credentials(String accountId) {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode data = root.putArray("data");
        for (dev.tollgate.proxy.credentials.ProviderCredentials.Entry entry : gateway.credentials().list(accountId)) {
            data.add(credential(entry));
        }
        return Response.json(HttpResponseStatus.OK, root);
    }

    private static ObjectNode credential(dev.tollgate.proxy.credentials.ProviderCredentials.Entry entry) {
        ObjectNode node = JSON.createObjectNode();
        node.put("object", "provider_credential");
        node.put("account", entry.accountId());
        node.put("provider", entry.provider());
        node.put("set_at", Instant.ofEpochMilli(entry.setAtMs()).toString());
        return node;
    }

    /**
     * Sets the account's own credential for a configured provider, for its direct routes. The credential is checked
     * without ever being echoed (no error message quotes it), kept encrypted, and never returned: the answer describes it.
     */
    private Response setCredential(Request request, String accountId, String provider) {
        if (gateway.config().providers().stream().noneMatch(configured -> configured.name().equals(provider))) {
            throw AdminError.notFound("No provider " + provider + " is configured (providers: "
                    + String.join(", ", gateway.config().providers().stream().map(dev.tollgate.config.ProviderConfig::name).sorted().toList()) + ")");
        }
        ObjectNode body = body(request, Set.of("api_key", "note"));
        JsonNode value = body.get("api_key");
        if (value == null || !value.isTextual() || value.textValue().isEmpty()) {
            throw AdminError.badRequest("api_key: the provider credential as a non-empty string");
        }
        String credential = value.textValue();
        if (credential.length() > dev.tollgate.proxy.credentials.ProviderCredentials.MAX_CREDENTIAL_LENGTH || !VISIBLE_ASCII.matcher(credential).matches()) {
            throw AdminError.badRequest("api_key: at most " + dev.tollgate.proxy.credentials.ProviderCredentials.MAX_CREDENTIAL_LENGTH
                    + " visible ASCII characters (no spaces or control characters); the value is not shown");
        }
        if (!gateway.credentials().available()) {
            throw new AdminError(HttpResponseStatus.CONFLICT, "invalid_request_error", "Provider credentials cannot be kept: the node has no master key. Set "
                    + dev.tollgate.proxy.credentials.ProviderCredentials.MASTER_KEY_ENV + " (32 random bytes, base64) and restart.");
        }
        ledger().recordCredentialChange(accountId, provider, false, author(request, optionalText(body, "note", 256)));
        return Response.json(HttpResponseStatus.OK, credential(gateway.credentials().set(accountId, provider, credential, clockMs.getAsLong())));
    }

    private Response removeCredential(Request request, String accountId, String provider) {
        if (gateway.credentials().list(accountId).stream().noneMatch(entry -> entry.provider().equals(provider))) {
            throw AdminError.notFound("The account " + accountId + " holds no credential for " + provider);
        }
        ObjectNode body = request.body().length == 0 ? JSON.createObjectNode() : body(request, Set.of("note"));
        ledger().recordCredentialChange(accountId, provider, true, author(request, optionalText(body, "note", 256)));
        gateway.credentials().remove(accountId, provider);
        ObjectNode root = JSON.createObjectNode();
        root.put("object", "provider_credential");
        root.put("account", accountId);
        root.put("provider", provider);
        root.put("deleted", true);
        return Response.json(HttpResponseStatus.OK, root);
    }

    /** Every change an operator made, newest first, read from the journal itself (the {@code AUTHORED} records). */
    private Response audit(Request request) {
        int limit = (int) number(request, "limit", 100, 1, MAX_PAGE);
        String account = query(request, "account");
        ObjectNode root = JSON.createObjectNode();
        ArrayNode data = root.putArray("data");
        ledger().journal().readBackward((index, event) -> {
            if (event instanceof JournalEvent.Authored authored) {
                ObjectNode node = JSON.createObjectNode();
                String changedAccount = auditEntry(node, index, authored);
                if (account == null || account.equals(changedAccount)) {
                    data.add(node);
                }
            }
            return data.size() < limit;
        });
        return Response.json(HttpResponseStatus.OK, root);
    }

    private static String auditEntry(ObjectNode node, long index, JournalEvent.Authored authored) {
        node.put("journal_index", Long.toHexString(index));
        node.put("time", Instant.ofEpochMilli(authored.timestampMs()).toString());
        node.put("actor", authored.actor());
        String account = switch (authored.change()) {
            case JournalEvent.AccountOpened e -> {
                node.put("action", "account.opened");
                yield e.accountId();
            }
            case JournalEvent.CreditAdded e -> {
                node.put("action", "account.credited");
                node.put("amount_micros", e.amountMicros());
                node.put("idempotency_key", Ledger.reference(e.idempotencyKey()));
                yield e.accountId();
            }
            case JournalEvent.Adjusted e -> {
                node.put("action", "account.adjusted");
                node.put("amount_micros", e.amountMicros());
                node.put("reason", e.reason());
                node.put("idempotency_key", Ledger.reference(e.idempotencyKey()));
                yield e.accountId();
            }
            case JournalEvent.KeyIssued e -> {
                node.put("action", "key.issued");
                node.put("key", keyId(e.keyHash()));
                node.put("label", e.label());
                yield e.accountId();
            }
            case JournalEvent.KeyRevoked e -> {
                node.put("action", "key.revoked");
                node.put("key", keyId(e.keyHash()));
                yield null;
            }
            case JournalEvent.KeyLimitsSet e -> {
                node.put("action", "key.limits_set");
                node.put("key", keyId(e.keyHash()));
                ObjectNode limits = node.putObject("limits");
                putCap(limits, "day_micros", e.dayCapMicros());
                putCap(limits, "month_micros", e.monthCapMicros());
                putCap(limits, "total_micros", e.totalCapMicros());
                yield null;
            }
            case JournalEvent.KeyScopeSet e -> {
                node.put("action", "key.changed");
                node.put("key", keyId(e.keyHash()));
                node.put("label", e.label());
                putTag(node, "env", e.env());
                putTag(node, "lane", e.lane());
                putStrings(node, "models", e.models());
                if (e.expiresAtMs() < 0) {
                    node.putNull("expires_at");
                } else {
                    node.put("expires_at", Instant.ofEpochMilli(e.expiresAtMs()).toString());
                }
                putStrings(node, "networks", e.networks());
                yield null;
            }
            case JournalEvent.RateLimitsSet e -> {
                boolean key = e.subject() == JournalEvent.RateLimitsSet.KEY;
                node.put("action", key ? "key.rate_limits_set" : "account.rate_limits_set");
                if (key) {
                    node.put("key", keyId(e.id()));
                }
                putRateLimits(node.putObject("limits"), new RateLimiter.Limits(e.rpm(), e.tpm(), e.concurrency()));
                yield key ? null : e.id();
            }
            case JournalEvent.AlertSet e -> {
                boolean key = e.subject() == JournalEvent.AlertSet.KEY;
                if (key) {
                    node.put("action", "key.alert_set");
                    node.put("key", keyId(e.id()));
                    putCap(node.putObject("limits"), "alert_percent", e.value());
                } else {
                    node.put("action", "account.low_balance_threshold_set");
                    putCap(node, "low_balance_threshold_micros", e.value());
                }
                yield key ? null : e.id();
            }
            case JournalEvent.KeyRotated e -> {
                node.put("action", "key.rotated");
                node.put("key", keyId(e.keyHash()));
                node.put("prefix", e.newDisplayPrefix());
                node.put("previous_valid_until", Instant.ofEpochMilli(e.previousValidUntilMs()).toString());
                yield null;
            }
            case JournalEvent.CredentialSet e -> {
                node.put("action", e.removed() ? "credential.removed" : "credential.set");
                node.put("provider", e.provider());
                yield e.accountId();
            }
            case JournalEvent.CatalogLoaded e -> {
                node.put("action", "pricing.reloaded");
                node.put("version", e.version());
                node.put("source", e.source());
                node.put("rows", e.rowCount());
                yield null;
            }
            default -> throw new IllegalStateException("no operator makes " + authored.change().type());
        };
        if (account != null) {
            node.put("account", account);
        }
        node.put("note", authored.note());
        return account;
    }

    // --- request parts ------------------------------------------------------------------------------

    private static Ledger.Author author(Request request, String note) {
        return new Ledger.Author(request.token().label(), note);
    }

    private static ObjectNode body(Request request, Set<String> fields) {
        JsonNode node;
        try {
            node = request.body().length == 0 ? null : JSON.readTree(request.body());
        } catch (JsonProcessingException e) {
            throw AdminError.badRequest("The body is not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw AdminError.badRequest("The body is not valid JSON.");
        }
        if (!(node instanceof ObjectNode object)) {
            throw AdminError.badRequest("The body must be a JSON object.");
        }
        for (var names = object.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!fields.contains(name)) {
                throw AdminError.badRequest("Unknown field " + name + " (known: " + String.join(", ", new java.util.TreeSet<>(fields)) + ")");
            }
        }
        return object;
    }

    private static String requiredText(ObjectNode body, String field) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            throw AdminError.badRequest(field + ": missing");
        }
        if (!value.isTextual() || value.textValue().isBlank()) {
            throw AdminError.badRequest(field + ": a non-empty string, found " + value);
        }
        return value.textValue();
    }

    private static String optionalText(ObjectNode body, String field, int maxBytes) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return "";
        }
        if (!value.isTextual()) {
            throw AdminError.badRequest(field + ": a string, found " + value);
        }
        if (value.textValue().getBytes(StandardCharsets.UTF_8).length > maxBytes) {
            throw AdminError.badRequest(field + ": at most " + maxBytes + " bytes");
        }
        return value.textValue();
    }

    private static String query(Request request, String name) {
        List<String> values = request.query().get(name);
        if (values == null || values.isEmpty() || values.get(0).isEmpty()) {
            return null;
        }
        if (values.size() > 1) {
            throw AdminError.badRequest("Query parameter " + name + " given " + values.size() + " times");
        }
        return values.get(0);
    }

    private static long number(Request request, String name, long defaultValue, long min, long max) {
        String text = query(request, name);
        if (text == null) {
            return defaultValue;
        }
        try {
            long value = Long.parseLong(text);
            if (value >= min && value <= max) {
                return value;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw AdminError.badRequest(name + ": a whole number from " + min + " to " + max + ", found " + text);
    }

    /** An instant ({@code 2026-12-01T00:00:00Z}) or a UTC day ({@code 2026-12-01}, its start). */
    private static long instant(Request request, String name, long defaultMs) {
        String text = query(request, name);
        if (text == null) {
            return defaultMs;
        }
        try {
            return text.length() == 10 ? LocalDate.parse(text).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli() : Instant.parse(text).toEpochMilli();
        } catch (DateTimeParseException e) {
            throw AdminError.badRequest(name + ": an instant like 2026-12-01T00:00:00Z or a day like 2026-12-01, found " + text);
        }
    }
}
