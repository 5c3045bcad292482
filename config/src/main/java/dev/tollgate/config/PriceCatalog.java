package dev.tollgate.config;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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
    private final Map<String, ModelRow> byProviderAndModel = new LinkedHashMap<>();
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
        for (ModelRow row : this.rows) {
            byProviderAndModel.put(key(row.provider(), row.model()), row);
        }
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

    public ModelRow find(String provider, String model) {
        return byProviderAndModel.get(key(provider, model));
    }

    private static String key(String provider, String model) {
        return provider + '\u0000' + model;
    }
}
