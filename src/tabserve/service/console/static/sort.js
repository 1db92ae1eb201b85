// Sortable tables: a button in each header cell sorts by that column (numbers by data-value).
function cellKey(row, index, numeric) {
  const cell = row.cells[index];
  const raw = cell.dataset.value ?? cell.textContent.trim();
  if (!numeric) return raw.toLowerCase();
  const value = Number.parseFloat(raw);
  return Number.isNaN(value) ? Number.NEGATIVE_INFINITY : value;
}

function sortBy(table, index) {
  const headers = [...table.tHead.rows[0].cells];
  const header = headers[index];
  const numeric = header.dataset.type === "number";
  const descending = header.getAttribute("aria-sort") !== "descending";
  const body = table.tBodies[0];
  const rows = [...body.rows];
  rows.sort((a, b) => {
    const x = cellKey(a, index, numeric);
    const y = cellKey(b, index, numeric);
    const order = x < y ? -1 : x > y ? 1 : 0;
    return descending ? -order : order;
  });
  for (const h of headers) h.removeAttribute("aria-sort");
  header.setAttribute("aria-sort", descending ? "descending" : "ascending");
  body.append(...rows);
}

export function setUpSorting() {
  for (const table of document.querySelectorAll("table[data-sortable]")) {
    [...table.tHead.rows[0].cells].forEach((header, index) => {
      const button = header.querySelector("button");
      if (button) button.addEventListener("click", () => sortBy(table, index));
    });
  }
}
