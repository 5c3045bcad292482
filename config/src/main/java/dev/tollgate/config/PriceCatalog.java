package dev.tollgate.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The model rows Tollgate may bill, keyed by (provider, model). Immutable after loading. */
public final class PriceCatalog {
    private final String currency;
    private final long microsPerUnit;
    private final List<ModelRow> rows;
    private final Map<String, ModelRow> byProviderAndModel = new LinkedHashMap<>();

    public PriceCatalog(String currency, long microsPerUnit, List<ModelRow> rows) {
        this.currency = currency;
        this.microsPerUnit = microsPerUnit;
        this.rows = List.copyOf(rows);
        for (ModelRow row : this.rows) {
            byProviderAndModel.put(key(row.provider(), row.model()), row);
        }
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
