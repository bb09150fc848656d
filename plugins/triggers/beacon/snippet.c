/*
 * crier.js, served at GET /crier.js. The script:
 *
 * - keeps a random visitor id in localStorage under "crier_vid", made on
 *   the first hit that may be sent, and no cookie;
 * - sends a page_view when it runs, and offers window.crier.track(type,
 *   properties), crier.identify({email}) and crier.consent(granted);
 * - with consent required (R), queues up to 20 hits in memory until
 *   crier.consent(true) sends them. NOTE: the queue is lost when the page
 *   is left (docs/KNOWN_LIMITS.md, "Triggers"). It keeps the choice in
 *   localStorage under "crier_consent". crier.consent(false) drops the
 *   queue and the visitor id;
 * - with honour_dnt (T), sends nothing while navigator.doNotTrack is "1"
 *   or navigator.globalPrivacyControl is true, whatever the consent.
 *
 * Hits go to POST /v1/beacon with navigator.sendBeacon, or to GET /b.gif
 * when that is missing or refuses, but the GIF carries no properties and
 * no identify. The base URL is the origin of the script's own src, so the
 * page may live on another host. R and T are filled in per instance.
 */
#include <glib.h>

#include "snippet.h"

static const char snippet_template[] =
    "(function(w,d,R,T){\n"
    "var s=d.currentScript||d.querySelector('script[src*=\"/crier.js\"]'),\n"
    "b=s?new URL(s.src,location.href).origin:\"\",K=\"crier_vid\","
    "C=\"crier_consent\",\n"
    "n=navigator,q=[],v,ok;\n"
    "function get(k){try{return localStorage.getItem(k)}catch(e){}}\n"
    "function put(k,x){try{x==null?localStorage.removeItem(k):"
    "localStorage.setItem(k,x)}catch(e){}}\n"
    "function off(){return T&&(n.doNotTrack==\"1\"||"
    "n.globalPrivacyControl===true)}\n"
    "function rid(){var a=crypto.getRandomValues(new Uint8Array(16)),"
    "h=\"\",i;\n"
    "for(i=0;i<16;i++)h+=(a[i]+256).toString(16).slice(1);return h}\n"
    "function vid(){v=v||get(K);if(!v){v=rid();put(K,v)}return v}\n"
    "function send(h){var e=encodeURIComponent;h.visitor=vid();\n"
    "if(n.sendBeacon&&n.sendBeacon(b+\"/v1/beacon\",JSON.stringify(h)))"
    "return;\n"
    "if(h.profile)return;\n"
    "new Image().src=b+\"/b.gif?v=\"+e(h.visitor)+\"&t=\"+e(h.type)+"
    "\"&u=\"+e(h.url)+\n"
    "\"&r=\"+e(h.referrer)+\"&ti=\"+e(h.title)}\n"
    "function hit(h){if(off())return;if(ok)send(h);"
    "else if(q.length<20)q.push(h)}\n"
    "function track(t,p){hit({type:t||\"page_view\",url:location.href,\n"
    "referrer:d.referrer,title:d.title,properties:p||{}})}\n"
    "function identify(p){hit({type:\"identify\","
    "profile:{email:String(p&&p.email)}})}\n"
    "function consent(g){ok=!!g;put(C,ok?\"1\":\"0\");"
    "if(ok)while(q.length)send(q.shift());\n"
    "else{q=[];v=null;put(K,null)}}\n"
    "ok=R?get(C)==\"1\":get(C)!=\"0\";\n"
    "w.crier={track:track,identify:identify,consent:consent,\n"
    "visitor:function(){return ok&&!off()?vid():null}};track()\n"
    "})(window,document,%d,%d);\n";


char *
beacon_snippet_render(int consent_required, int honour_dnt)
{
    return g_strdup_printf(snippet_template, consent_required ? 1 : 0,
                           honour_dnt ? 1 : 0);
}
