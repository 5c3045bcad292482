package dev.tollgate.metering;

import dev.tollgate.config.Protocol;
import dev.tollgate.config.RouteConfig;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * The candidates that may serve a model name a client sends on a surface: the targets of its configured route, or the
 * one route of its catalog row when it has none (as before routes). Built with the {@link ModelRoutes} of one catalog
 * and never changed, so a request keeps the candidates, and their prices, it was admitted with.
 */
public final class ModelRouting {
    private final ModelRoutes routes;
    private final Map<String, Candidates> routed = new HashMap<>();
    /** The one candidate of each catalog model, made once so that finding it allocates nothing. */
    private final Map<String, Candidates> unrouted = new HashMap<>();

    /** @param configured routes already validated against the providers and the catalog ({@code ConfigLoader.routeProblems}) */
    public ModelRouting(ModelRoutes routes, List<RouteConfig> configured) {
        this.routes = routes;
        for (ModelRoutes.Route route : routes.routes()) {
            unrouted.put(key(route.provider().protocol(), route.row().model()),
                    new Candidates(route.row().model(), List.of(new Candidate(route, 1, 1)), false, RouteConfig.PlatformFee.NONE, false));
        }
        for (RouteConfig route : configured) {
            List<Candidate> candidates = new ArrayList<>();
            for (RouteConfig.Target target : route.targets()) {
                ModelRoutes.Route served = routes.find(target.provider(), target.model());
                if (served != null) {
                    candidates.add(new Candidate(served, target.priority(), target.weight()));
                }
            }
            if (!candidates.isEmpty()) {
                routed.put(key(candidates.getFirst().route().provider().protocol(), route.model()), new Candidates(route.model(), candidates, true,
                        route.platformFee(), route.direct()));
            }
        }
    }

    public ModelRoutes routes() {
        return routes;
    }

    /** The candidates for {@code model} on {@code surface}, or null when nothing serves it there. */
    public Candidates find(Protocol surface, String model) {
        Candidates explicit = routed.isEmpty() ? null : routed.get(key(surface, model));
        if (explicit != null) {
            return explicit;
        }
        return unrouted.get(key(surface, model));
    }

    /** Every model name with a configured route, in no particular order. */
    public List<Candidates> configured() {
        return List.copyOf(routed.values());
    }

    private static String key(Protocol protocol, String model) {
        return protocol.name() + '\u0000' + model;
    }

    /** One target: a provider's model at its catalog row. */
    public record Candidate(ModelRoutes.Route route, int priority, int weight) {
    }

    /**
     * The candidates of one requested model, sorted by priority. {@code configured} is false for a model served by its
     * catalog row alone (one candidate, no fallback). {@code direct}: served on the account's own provider credentials and
     * paid to the provider, with {@code platformFee} drawn from the prepaid balance.
     */
    public record Candidates(String requestedModel, List<Candidate> byPriority, boolean configured, RouteConfig.PlatformFee platformFee,
                             boolean direct) {
        public Candidates {
            byPriority = byPriority.stream().sorted(Comparator.comparingInt(Candidate::priority)).toList();
        }

        /** Candidates billed on the prepaid balance. */
        public Candidates(String requestedModel, List<Candidate> byPriority, boolean configured) {
            this(requestedModel, byPriority, configured, RouteConfig.PlatformFee.NONE, false);
        }

        /**
         * The order to try the candidates in: by priority, and within one priority a weighted random order (a
         * candidate of weight 3 comes first three times as often as one of weight 1). One candidate: this list itself.
         */
        public List<Candidate> attemptOrder(RandomGenerator random) {
            if (byPriority.size() == 1) {
                return byPriority;
            }
            List<Candidate> order = new ArrayList<>(byPriority.size());
            int start = 0;
            while (start < byPriority.size()) {
                int end = start;
                while (end < byPriority.size() && byPriority.get(end).priority() == byPriority.get(start).priority()) {
                    end++;
                }
                List<Candidate> group = new ArrayList<>(byPriority.subList(start, end));
                while (!group.isEmpty()) {
                    long total = 0;
                    for (Candidate candidate : group) {
                        total += candidate.weight();
                    }
                    long pick = random.nextLong(total);
                    int index = 0;
                    while (pick >= group.get(index).weight()) {
                        pick -= group.get(index).weight();
                        index++;
                    }
                    order.add(group.remove(index));
                }
                start = end;
            }
            return order;
        }
    }
}
