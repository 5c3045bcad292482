package dev.tollgate.config;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The model rows Tollgate may bill, keyed by (provider, model). Immutable after loading. Its {@link #version()}
 * names its prices wherever they were read from; its {@link #file()} is where to read it again on a reload.
 */
public final class PriceCatalog {
    private final String currency;
    private final long microsPerUnit;
    private final List<ModelRow> rows;
    /** Each (provider, model)'s price sets, ascending by effectiveFrom (the one without first): a request's lookup scans one to three. */
    private final Map<String, ModelRow[]> versionsByProviderAndModel = new LinkedHashMap<>();
    private final Path file;
    private final String version;

    public PriceCatalog(String currency, long microsPerUnit, List<ModelRow> rows) {
        this(currency, microsPerUnit, rows, null);
    }

    /** @param file the catalog file it was read from, or null for the built-in catalog (or one made in code) */
    public PriceCatalog(String currency, long microsPerUnit, List<ModelRow> rows, Path file) {
        this.currency = currency;
        this.microsPerUnit = microsPerUnit;
        this.rows = List.copyOf(rows);
        this.file = file;
        Map<String, List<ModelRow>> grouped = new LinkedHashMap<>();
        for (ModelRow row : this.rows) {
            grouped.computeIfAbsent(key(row.provider(), row.model()), k -> new ArrayList<>()).add(row);
        }
        grouped.forEach((key, versions) -> versionsByProviderAndModel.put(key, versions.stream().sorted(BY_EFFECTIVE_FROM).toArray(ModelRow[]::new)));
        this.version = versionOf(currency, microsPerUnit, this.rows);
    }

    /**
     * The first 16 hex digits of the SHA-256 of the catalog's canonical bytes: every value of every row, the rows in
     * (provider, model) order, each value length-prefixed. Comments, layout and row order in the file do not change it;
     * any price, limit or row does. The journal names the catalog that priced each debit by it.
     */
    public String version() {
        return version;
    }

    /** Where the catalog was read from, or null for the built-in one. */
    public Path file() {
        return file;
    }

    /** "builtin", or the catalog file's name. */
    public String source() {
        return file == null ? CatalogLoader.BUILTIN_NAME : String.valueOf(file.getFileName());
    }

    private static String versionOf(String currency, long microsPerUnit, List<ModelRow> rows) {
        StringBuilder canonical = new StringBuilder(256 * (rows.size() + 1));
        append(canonical, currency);
        append(canonical, microsPerUnit);
        List<ModelRow> sorted = rows.stream().sorted(Comparator.comparing(ModelRow::provider).thenComparing(ModelRow::model)
                .thenComparing(row -> row.effectiveFrom() == null ? java.time.Instant.MIN : row.effectiveFrom())).toList();
        for (ModelRow row : sorted) {
            append(canonical, row.provider());
            append(canonical, row.model());
            append(canonical, row.endpoints().stream().map(Enum::name).sorted().toList());
            append(canonical, row.encoding());
            append(canonical, row.contextWindowTokens());
            append(canonical, row.maxOutputTokens());
            append(canonical, row.inputMicrosPerMillionTokens());
            append(canonical, row.cacheReadMicrosPerMillionTokens());
            append(canonical, row.cacheWriteMicrosPerMillionTokens());
            append(canonical, row.outputMicrosPerMillionTokens());
            append(canonical, row.asOf());
            append(canonical, row.source());
            // Only when there are any, so a catalog without tiers, windows or service tiers keeps the version it had before they existed.
            for (PriceTier tier : row.tiers()) {
                append(canonical, "tier");
                append(canonical, tier.abovePromptTokens());
                append(canonical, tier.inputMicrosPerMillionTokens());
                append(canonical, tier.cacheReadMicrosPerMillionTokens());
                append(canonical, tier.cacheWriteMicrosPerMillionTokens());
                append(canonical, tier.outputMicrosPerMillionTokens());
            }
            if (row.retiredOn() != null) {
                append(canonical, "retired");
                append(canonical, row.retiredOn());
            }
            for (TimeWindow window : row.timeWindows()) {
                append(canonical, "window");
                append(canonical, window.zone().getId());
                append(canonical, window.days().stream().map(Enum::name).sorted().toList());
                append(canonical, window.fromMinute());
                append(canonical, window.untilMinute());
                append(canonical, window.percent());
            }
            for (String serviceTier : row.serviceTiers().keySet().stream().sorted().toList()) {
                append(canonical, "serviceTier");
                append(canonical, serviceTier);
                append(canonical, row.serviceTiers().get(serviceTier));
            }
            appendClassPrices(canonical, "class", row.tokenClassPrices());
            for (PriceTier tier : row.tiers()) {
                appendClassPrices(canonical, "tierClass" + tier.abovePromptTokens(), tier.tokenClassPrices());
            }
            for (String tool : row.serverToolFees().keySet().stream().sorted().toList()) {
                append(canonical, "serverTool");
                append(canonical, tool);
                append(canonical, row.serverToolFees().get(tool).microsPerCall());
                append(canonical, row.serverToolFees().get(tool).maxCallsPerRequest());
            }
            if (row.requestFeeMicros() != 0) {
                append(canonical, "requestFee");
                append(canonical, row.requestFeeMicros());
            }
            for (String unit : row.unitPrices().keySet().stream().sorted().toList()) {
                append(canonical, "unit");
                append(canonical, unit);
                append(canonical, row.unitPrices().get(unit));
            }
            if (row.effectiveFrom() != null) {
                append(canonical, "from");
                append(canonical, row.effectiveFrom());
            }
            if (row.effectiveUntil() != null) {
                append(canonical, "until");
                append(canonical, row.effectiveUntil());
            }
        }
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(canonical.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void appendClassPrices(StringBuilder canonical, String label, Map<TokenClass, Long> prices) {
        for (TokenClass tokenClass : TokenClass.values()) { // in the enum's order, whatever the map's
            Long price = prices.get(tokenClass);
            if (price != null) {
                append(canonical, label);
                append(canonical, tokenClass.yamlName());
                append(canonical, price);
            }
        }
    }

    /** Length-prefixed, so no two different catalogs give the same bytes. */
    private static void append(StringBuilder canonical, Object value) {
        String text = String.valueOf(value);
        canonical.append(text.length()).append(':').append(text).append(';');
    }

    public String currency() {
        return currency;
    }

    /** How many micro-units make one currency unit (1,000,000 for USD in micro-dollars). */
    public long microsPerUnit() {
        return microsPerUnit;
    }

    public List<ModelRow> rows() {
        return rows;
    }

    /** The row of (provider, model) in force now, for what has no request time (model lists, admin views); null when none is. */
    public ModelRow find(String provider, String model) {
        return find(provider, model, System.currentTimeMillis());
    }

    /**
     * The row of (provider, model) in force at {@code epochMs}, or null when there is none then: an unknown model, or a
     * time before its first price set began or after its last ended. Allocates nothing: it runs for every request.
     */
    public ModelRow find(String provider, String model, long epochMs) {
        ModelRow[] versions = versionsByProviderAndModel.get(key(provider, model));
        if (versions == null) {
            return null;
        }
        for (ModelRow version : versions) {
            if (version.inForceAt(epochMs)) {
                return version;
            }
        }
        return null;
    }

    /** Every price set of (provider, model), ascending by effectiveFrom; empty for a model the catalog does not price. */
    public List<ModelRow> versions(String provider, String model) {
        ModelRow[] versions = versionsByProviderAndModel.get(key(provider, model));
        return versions == null ? List.of() : List.of(versions);
    }

    /**
     * What {@code next} changes of the prices this catalog applied up to {@code nowMs}, one line per change; empty when
     * it changes none. Every debit was priced at the version in force when it was admitted, and statements, replays and
     * re-rating find that version again by its effectiveFrom: so each version that began at or before now must stay
     * with the same effectiveFrom and the same prices, its effectiveUntil may move only within the future, and a new
     * version may only begin after now. Versions not yet begun may change freely, and a model new to {@code next} may
     * start at any time (no request was priced by it).
     */
    public List<String> pastPriceChanges(PriceCatalog next, long nowMs) {
        List<String> changes = new ArrayList<>();
        for (ModelRow[] versions : versionsByProviderAndModel.values()) {
            String name = versions[0].provider() + "/" + versions[0].model();
            List<ModelRow> nextVersions = next.versions(versions[0].provider(), versions[0].model());
            boolean pricedThePast = begunBy(versions[0], nowMs);
            if (nextVersions.isEmpty()) {
                if (pricedThePast) {
                    changes.add(name + ": removed, but it priced requests up to now; its rows must stay so their debits keep a price");
                }
                continue;
            }
            for (ModelRow old : versions) {
                if (!begunBy(old, nowMs)) {
                    continue;
                }
                String version = name + " (the version " + (old.effectiveFrom() == null ? "in force since always" : "from " + old.effectiveFrom()) + ")";
                ModelRow same = nextVersions.stream().filter(v -> java.util.Objects.equals(v.effectiveFrom(), old.effectiveFrom())).findFirst().orElse(null);
                if (same == null) {
                    changes.add(version + ": removed, but it priced requests up to now");
                    continue;
                }
                List<String> changed = priceChanges(old, same);
                if (!changed.isEmpty()) {
                    changes.add(version + ": " + String.join(", ", changed) + " changed, but it priced requests up to now;"
                            + " add a version with an effectiveFrom after now instead");
                }
                if (!java.util.Objects.equals(old.effectiveUntil(), same.effectiveUntil())
                        && (endedBy(old.effectiveUntil(), nowMs) || endedBy(same.effectiveUntil(), nowMs))) {
                    changes.add(version + ": effectiveUntil " + until(old) + " changed to " + until(same)
                            + ", which changes the price of a time already past; it may only move to an instant after now");
                }
            }
            for (ModelRow added : nextVersions) {
                boolean known = java.util.Arrays.stream(versions).anyMatch(v -> java.util.Objects.equals(v.effectiveFrom(), added.effectiveFrom()));
                if (!known && begunBy(added, nowMs)) {
                    changes.add(name + " (a new version " + (added.effectiveFrom() == null ? "in force since always" : "from " + added.effectiveFrom())
                            + "): begins at or before now, so it would reprice requests already priced; a new version must begin after now");
                }
            }
        }
        return changes;
    }

    private static boolean begunBy(ModelRow row, long nowMs) {
        return row.effectiveFrom() == null || row.effectiveFrom().toEpochMilli() <= nowMs;
    }

    private static boolean endedBy(java.time.Instant until, long nowMs) {
        return until != null && until.toEpochMilli() <= nowMs;
    }

    private static String until(ModelRow row) {
        return row.effectiveUntil() == null ? "(until replaced)" : row.effectiveUntil().toString();
    }

    /** The names of the price-bearing fields that differ; what only describes a row (asOf, source, retiredOn, limits) may change. */
    private static List<String> priceChanges(ModelRow old, ModelRow next) {
        List<String> changed = new ArrayList<>();
        differs(changed, "inputMicrosPerMillionTokens", old.inputMicrosPerMillionTokens(), next.inputMicrosPerMillionTokens());
        differs(changed, "cacheReadMicrosPerMillionTokens", old.cacheReadMicrosPerMillionTokens(), next.cacheReadMicrosPerMillionTokens());
        differs(changed, "cacheWriteMicrosPerMillionTokens", old.cacheWriteMicrosPerMillionTokens(), next.cacheWriteMicrosPerMillionTokens());
        differs(changed, "outputMicrosPerMillionTokens", old.outputMicrosPerMillionTokens(), next.outputMicrosPerMillionTokens());
        differs(changed, "tiers", old.tiers(), next.tiers());
        differs(changed, "timeWindows", old.timeWindows(), next.timeWindows());
        differs(changed, "serviceTiers", old.serviceTiers(), next.serviceTiers());
        differs(changed, "tokenClassPrices", old.tokenClassPrices(), next.tokenClassPrices());
        differs(changed, "serverToolFees", old.serverToolFees(), next.serverToolFees());
        differs(changed, "requestFeeMicros", old.requestFeeMicros(), next.requestFeeMicros());
        differs(changed, "unitPrices", old.unitPrices(), next.unitPrices());
        return changed;
    }

    private static void differs(List<String> changed, String field, Object old, Object next) {
        if (!old.equals(next)) {
            changed.add(field + " (" + old + " to " + next + ")");
        }
    }

    private static final Comparator<ModelRow> BY_EFFECTIVE_FROM = Comparator.comparing(ModelRow::effectiveFrom,
            Comparator.nullsFirst(Comparator.naturalOrder()));

    private static String key(String provider, String model) {
        return provider + '\u0000' + model;
    }
}
