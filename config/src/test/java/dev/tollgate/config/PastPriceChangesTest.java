package dev.tollgate.config;

import static dev.tollgate.config.CatalogLoaderTest.HEADER;
import static dev.tollgate.config.CatalogLoaderTest.load;
import static dev.tollgate.config.CatalogLoaderTest.row;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * What a reload may change: the prices in force at every instant up to now stay, so every past debit keeps the price
 * set that made it; only the future may be repriced.
 */
class PastPriceChangesTest {
    /** Now, for every case: 2026-12-10 00:00 UTC. */
    private static final long NOW_MS = Instant.parse("2026-12-10T00:00:00Z").toEpochMilli();
    /** m at its list price since always, and n with a version that began before now and one that begins after it. */
    private static final PriceCatalog IN_FORCE = load(HEADER + row("openai", "m")
            + row("openai", "n", "effectiveUntil: 2026-12-20")
            + row("openai", "n", "effectiveFrom: 2026-12-20", "outputMicrosPerMillionTokens: 300000"));

    @Test
    void addingAFutureVersionAndEndingTheCurrentOneThereIsAccepted() {
        PriceCatalog next = load(HEADER + row("openai", "m", "effectiveUntil: 2026-12-15", "asOf: 2026-12-09")
                + row("openai", "m", "effectiveFrom: 2026-12-15", "outputMicrosPerMillionTokens: 900000")
                + row("openai", "n", "effectiveUntil: 2026-12-25")
                + row("openai", "n", "effectiveFrom: 2026-12-25", "outputMicrosPerMillionTokens: 200000")
                + row("openai", "brand-new", "effectiveFrom: 2020-01-01"));
        assertThat(IN_FORCE.pastPriceChanges(next, NOW_MS)).isEmpty();
        assertThat(IN_FORCE.pastPriceChanges(IN_FORCE, NOW_MS)).as("the same catalog").isEmpty();
    }

    @Test
    void aPastPriceChangedIsRefusedNamingTheRowAndTheField() {
        PriceCatalog next = load(HEADER + row("openai", "m", "outputMicrosPerMillionTokens: 6000000")
                + row("openai", "n", "effectiveUntil: 2026-12-20")
                + row("openai", "n", "effectiveFrom: 2026-12-20", "outputMicrosPerMillionTokens: 300000"));
        assertThat(IN_FORCE.pastPriceChanges(next, NOW_MS)).containsExactly("openai/m (the version in force since always): "
                + "outputMicrosPerMillionTokens (600000 to 6000000) changed, but it priced requests up to now; add a version with an effectiveFrom after now instead");
    }

    @Test
    void aPastVersionRemovedANewVersionStartingInThePastOrAModelRemovedIsRefused() {
        PriceCatalog next = load(HEADER
                + row("openai", "n", "effectiveFrom: 2026-12-20", "outputMicrosPerMillionTokens: 300000")
                + row("openai", "n", "effectiveFrom: 2026-12-01", "effectiveUntil: 2026-12-20"));
        assertThat(IN_FORCE.pastPriceChanges(next, NOW_MS)).containsExactly(
                "openai/m: removed, but it priced requests up to now; its rows must stay so their debits keep a price",
                "openai/n (the version in force since always): removed, but it priced requests up to now",
                "openai/n (a new version from 2026-12-01T00:00:00Z): begins at or before now, so it would reprice requests already priced;"
                        + " a new version must begin after now");
    }

    @Test
    void anEffectiveUntilMovedIntoThePastIsRefusedAndAFutureVersionMayChangeFreely() {
        PriceCatalog next = load(HEADER + row("openai", "m")
                + row("openai", "n", "effectiveUntil: 2026-12-05")
                + row("openai", "n", "effectiveFrom: 2026-12-05", "outputMicrosPerMillionTokens: 300000"));
        assertThat(IN_FORCE.pastPriceChanges(next, NOW_MS)).containsExactly(
                "openai/n (the version in force since always): effectiveUntil 2026-12-20T00:00:00Z changed to 2026-12-05T00:00:00Z, which changes the"
                        + " price of a time already past; it may only move to an instant after now",
                "openai/n (a new version from 2026-12-05T00:00:00Z): begins at or before now, so it would reprice requests already priced;"
                        + " a new version must begin after now");
        PriceCatalog repricedFuture = load(HEADER + row("openai", "m") + row("openai", "n", "effectiveUntil: 2026-12-20")
                + row("openai", "n", "effectiveFrom: 2026-12-20", "outputMicrosPerMillionTokens: 1"));
        assertThat(IN_FORCE.pastPriceChanges(repricedFuture, NOW_MS)).as("the version from 2026-12-20 priced nothing yet").isEmpty();
        assertThat(IN_FORCE.pastPriceChanges(repricedFuture, Instant.parse("2026-12-20T00:00:00Z").toEpochMilli()))
                .as("at its first instant it has").hasSize(1);
    }
}
