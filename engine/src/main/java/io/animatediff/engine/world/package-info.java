/**
 * The miniature world of issue 5: a seeded generator of small videos of coloured shapes moving in a
 * direction, in two visual domains (a plain base domain and a striped "personalized" one), written as
 * trainer datasets; and the deterministic metrics that judge generated clips against their prompt.
 */
package io.animatediff.engine.world;
