/* The JavaScript snippet that GET /crier.js serves. */
#ifndef CRIER_BEACON_SNIPPET_H
#define CRIER_BEACON_SNIPPET_H

/*
 * Returns crier.js for one trigger instance, to free with g_free.
 * `consent_required` makes the script hold every hit until the page calls
 * crier.consent(true); `honour_dnt` makes it send nothing when the
 * browser signals Do Not Track or Global Privacy Control.
 */
char *beacon_snippet_render(int consent_required, int honour_dnt);

#endif
