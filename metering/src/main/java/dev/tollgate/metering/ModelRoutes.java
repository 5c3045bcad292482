package dev.tollgate.metering;

import dev.tollgate.config.ModelRow;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which configured provider serves a model name on a surface, and at which catalog row. A catalog
 * row is routable only when a provider of that name is configured with the row's protocol; the
 * first configured provider wins where two serve the same name. Model names match exactly: a dated
 * snapshot can be priced differently from its alias, so it needs its own row.
 *
 * <p>Built from one catalog and never changed: a reload builds new routes, and a request keeps the route (so the
 * prices, and {@link #catalogVersion()}) it was admitted with.
 */
public final class ModelRoutes {
    private final Map<String, Route> byProtocolAndModel = new HashMap<>();
    private final List<Route> routes = new ArrayList<>();
    private final PriceCatalog catalog;

    public ModelRoutes(PriceCatalog catalog, List<ProviderConfig> providers) {
        this.catalog = catalog;
        for (ProviderConfig provider : providers) {
            for (ModelRow row : catalog.rows()) {
                if (row.provider().equals(provider.name())) {
                    Route route = new Route(provider, row, catalog.version());
                    if (byProtocolAndModel.putIfAbsent(key(provider.protocol(), row.model()), route) == null) {
                        routes.add(route);
                    }
                }
            }
        }
    }

    /** The route for a model on a surface, or null when no configured provider serves it. */
    public Route find(Protocol surface, String model) {
        return byProtocolAndModel.get(key(surface, model));
    }

    /** Every routable model, in configuration order. */
    public List<Route> routes() {
        return List.copyOf(routes);
    }

    /** The catalog these routes price by. */
    public PriceCatalog catalog() {
        return catalog;
    }

    /** The version of that catalog, journaled with every debit priced by these routes. */
    public String catalogVersion() {
        return catalog.version();
    }

    private static String key(Protocol protocol, String model) {
        return protocol.name() + '\u0000' + model;
    }

    /** A provider's model at its catalog row, and the version of the catalog that row is from. */
    public record Route(ProviderConfig provider, ModelRow row, String catalogVersion) {
        /** This route as it prices a request admitted at {@code epochMs} (see {@link ModelRow#pricedAt}); itself when nothing differs. */
        public Route pricedAt(long epochMs) {
            if (row.timeWindows().isEmpty()) {
                return this;
            }
            ModelRow priced = row.pricedAt(epochMs);
            return priced == row ? this : new Route(provider, priced, catalogVersion);
        }

    }
}
