/** The worker service. A skeleton until its issue lands (see README, "Status"). */
package io.animatediff.worker;
