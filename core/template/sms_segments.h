/*
 * SMS segment counting: how many parts a text takes on the air.
 *
 * A text whose every character is in the GSM 03.38 default alphabet or its
 * extension table goes as 7-bit septets: 160 in a single part, 153 per
 * part when concatenated (the user data header takes the rest), and each
 * extension character (^ { } \ [ ] ~ | and the euro sign, and form feed)
 * takes two septets, an escape and the character. One character outside
 * that set makes the whole text UCS-2: 70 UTF-16 code units in a single
 * part, 67 per part, and a character beyond U+FFFF (an emoji) takes two.
 * A character is never split across two parts, as handsets cannot join
 * half an escape or half a surrogate pair.
 *
 * The SMS channel counts with this to enforce `max_segments`, and the
 * template preview can show the same count. The core compiles this file,
 * and the SMS plugin compiles it again because plugins cannot link
 * against core symbols.
 */
#ifndef CRIER_SMS_SEGMENTS_H
#define CRIER_SMS_SEGMENTS_H

#include <stddef.h>

enum sms_encoding {
    SMS_ENCODING_GSM7 = 0,    /* septets of the GSM 03.38 alphabet */
    SMS_ENCODING_UCS2 = 1     /* UTF-16 code units */
};

#define SMS_GSM7_SINGLE 160
#define SMS_GSM7_PER_PART 153
#define SMS_UCS2_SINGLE 70
#define SMS_UCS2_PER_PART 67

/* The result of counting one text. */
struct sms_segments {
    enum sms_encoding encoding;
    size_t units;             /* septets (GSM-7) or UTF-16 code units */
    size_t parts;             /* 0 for an empty text */
    size_t units_last_part;   /* units in the last part */
};

/*
 * Counts the parts of the UTF-8 text `text` of `len` bytes into `out`.
 * Returns 0, or -1 when `text` is not valid UTF-8 (`out` is then unset).
 */
int sms_segments_count(const char *text, size_t len, struct sms_segments *out);

/*
 * Returns the septets that code point `c` takes in GSM 03.38: 1 for the
 * default alphabet, 2 for the extension table, 0 when it has no GSM form.
 */
int sms_gsm7_septets(unsigned int c);

#endif
