package dev.tollgate.config;

import java.util.List;

/**
 * What a model name a client sends is served by: candidate targets, tried by priority (lowest first), and within one
 * priority in a weighted random order. A model without a route is served by its catalog row's provider, as before routes.
 */
public record RouteConfig(String model, List<Target> targets) {

    public RouteConfig {
        targets = List.copyOf(targets);
    }

    /**
     * One candidate: a configured provider and the model name it is asked for (its catalog row prices it).
     *
     * @param priority 1 is tried first; a higher number only when every target of a lower one failed or is skipped
     * @param weight   within one priority, the share of first attempts this target gets
     */
    public record Target(String provider, String model, int priority, int weight) {
    }
}
