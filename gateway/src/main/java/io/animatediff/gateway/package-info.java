/** The gateway service. A skeleton until its issue lands (see README, "Status"). */
package io.animatediff.gateway;
