package dev.tollgate.config;

/**
 * What {@code /metrics} may show beyond its bounded default labels.
 *
 * @param keyLabels whether the request series also carry each key's label ({@code key_label}): off by default, since the
 *                  number of series then grows with the number of keys, and a label is an operator's free text
 */
public record MetricsConfig(boolean keyLabels) {
    public static final MetricsConfig DEFAULT = new MetricsConfig(false);
}
