// Reads every annotation record of an ELF image, with the run-time address of each site.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "afterburn/annotation.h"
#include "elf_image.h"

namespace afterburn {

struct located_record {
    annotation::site_record record;
    uint64_t record_addr = 0;   // where the record itself lives
    uint64_t site = 0;          // record_addr + record.site
    const elf_section *note = nullptr;
    uint64_t note_offset = 0;   // byte offset of the record inside its note section
};

struct annotation_tables {
    std::vector<located_record> records;
    unsigned tables = 0;
    std::vector<std::string> errors;  // malformed notes, named by section and offset
};

annotation_tables read_annotation_tables(const elf_image &img);

// "record .notes+0x1a4 (site foo+0x3)": how scan, rewrite and afterburn-as name a record.
std::string record_name(const elf_image &img, const located_record &lr);

// What is wrong with a record on its own (annotation::check_record) or with where its site
// lies (annotation::check_placement); empty when nothing is. Scan and rewrite refuse the
// same records with these words.
std::string record_problem(const elf_image &img, const located_record &lr);

} // namespace afterburn
