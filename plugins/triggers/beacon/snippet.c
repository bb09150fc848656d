/*
 * crier.js, served at GET /crier.js. It keeps a random visitor id in
 * localStorage under "crier_vid", sends a page_view when it runs, and
 * offers window.crier.track(type, properties). Hits go to POST /v1/beacon
 * with navigator.sendBeacon, or to GET /b.gif when that is missing or
 * refuses, but the GIF carries no properties. The base URL is the origin of
 * the script's own src, so the page may live on another host.
 */
#include <stddef.h>

#include "snippet.h"

const char beacon_snippet[] =
    "(function(w,d){\n"
    "var s=d.currentScript||d.querySelector('script[src*=\"/crier.js\"]'),\n"
    "b=s?new URL(s.src,location.href).origin:\"\",k=\"crier_vid\",v;\n"
    "function rid(){var a=crypto.getRandomValues(new Uint8Array(16)),"
    "h=\"\",i;\n"
    "for(i=0;i<16;i++)h+=(a[i]+256).toString(16).slice(1);return h}\n"
    "try{v=localStorage.getItem(k);"
    "if(!v){v=rid();localStorage.setItem(k,v)}}\n"
    "catch(e){v=v||rid()}\n"
    "function track(t,p){var e=encodeURIComponent,h={visitor:v,\n"
    "type:t||\"page_view\",url:location.href,referrer:d.referrer,\n"
    "title:d.title,properties:p||{}},n=navigator;\n"
    "if(n.sendBeacon&&n.sendBeacon(b+\"/v1/beacon\",JSON.stringify(h)))"
    "return;\n"
    "new Image().src=b+\"/b.gif?v=\"+e(v)+\"&t=\"+e(h.type)+"
    "\"&u=\"+e(h.url)+\n"
    "\"&r=\"+e(h.referrer)+\"&ti=\"+e(h.title)}\n"
    "w.crier={track:track,visitor:v};track()\n"
    "})(window,document);\n";

const size_t beacon_snippet_len = sizeof(beacon_snippet) - 1;
