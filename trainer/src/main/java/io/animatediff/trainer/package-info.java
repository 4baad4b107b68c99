/** The trainer service. A skeleton until its issue lands (see README, "Status"). */
package io.animatediff.trainer;
